import Foundation

/// A first-in first-out queue between two threads that holds at most `capacity` elements:
/// `push` waits while it is full, `pop` waits while it is empty.
///
/// `@unchecked Sendable`: every access to the elements happens under `condition`'s lock.
final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    let capacity: Int
    private let condition = NSCondition()
    private var elements: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false

    init(capacity: Int) {
        precondition(capacity > 0, "a bounded queue needs room for one element")
        self.capacity = capacity
        elements = Array(repeating: nil, count: capacity)
    }

    /// Adds `element`, waiting for room.
    func push(_ element: Element) {
        condition.lock()
        defer { condition.unlock() }
        while count == capacity { condition.wait() }
        precondition(!closed, "push after close")
        elements[(head + count) % capacity] = element
        count += 1
        condition.broadcast()
    }

    /// The oldest element, waiting for one; nil once the queue is closed and empty.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && !closed { condition.wait() }
        guard count > 0 else { return nil }
        let element = elements[head].take()
        head = (head + 1) % capacity
        count -= 1
        condition.broadcast()
        return element
    }

    /// No more elements will come; `pop` returns nil when the rest are taken.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
