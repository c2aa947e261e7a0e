import Testing
import WebSocketWire
@testable import FaultInjection

@Suite struct StreamEditorTests {
    /// A server's (unmasked) frame.
    func frame(_ opcode: UInt8, _ payload: [UInt8]) -> [UInt8] { [0x80 | opcode, UInt8(payload.count)] + payload }

    /// Decodes server bytes after a handshake the decoder is told of.
    func decoded(_ bytes: [UInt8]) -> (events: [WireEvent], betweenFrames: Bool) {
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .server))
        var events: [WireEvent] = []
        bytes.withUnsafeBytes { decoder.decode($0, into: &events) }
        return (events, decoder.isBetweenFrames)
    }

    @Test func dropsPongsAndKeepsTheRest() {
        let text = frame(0x1, Array("hi".utf8)), pong = frame(0xA, [1, 2])
        let chunk = text + pong + text
        let (events, between) = decoded(chunk)
        var editor = StreamEditor(toward: .client)
        editor.dropPongs = "p"
        let result = editor.edit(chunk, base: 0, events: events, betweenFrames: between)
        #expect(result.bytes == text + text)
        #expect(result.edits == [.droppedPong(faultID: "p")])
    }

    @Test func corruptsTheNextTextKeepingItsLength() {
        let chunk = frame(0x2, [0xFF]) + frame(0x1, Array("héllo".utf8))
        let (events, between) = decoded(chunk)
        var editor = StreamEditor(toward: .client)
        editor.corruptNextText = "u"
        let result = editor.edit(chunk, base: 0, events: events, betweenFrames: between)
        #expect(result.bytes.count == chunk.count)
        #expect(String(validating: result.bytes[5...], as: UTF8.self) == nil)
        #expect(result.edits == [.corruptedText(faultID: "u", frame: 1)])
        #expect(editor.corruptNextText == nil)
    }

    @Test func setsRSV1OnTheNextDataFrame() {
        let chunk = frame(0x9, []) + frame(0x1, Array("a".utf8))
        let (events, between) = decoded(chunk)
        var editor = StreamEditor(toward: .client)
        editor.setRSV1Next = "r"
        let result = editor.edit(chunk, base: 0, events: events, betweenFrames: between)
        #expect(result.bytes[2] == 0xC1)
        #expect(result.edits == [.setRSV1(faultID: "r", frame: 1)])
    }

    /// Edits `stream` cut at `cut` into two chunks, as two reads; the bytes forwarded and the edits.
    func editedInTwoReads(_ stream: [UInt8], cut: Int, _ editor: inout StreamEditor) -> (bytes: [UInt8], edits: [StreamEditor.Edit]) {
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .server))
        var forwarded: [UInt8] = [], edits: [StreamEditor.Edit] = []
        var frameStart: Int64 = 0
        for (base, chunk) in [(0, Array(stream[..<cut])), (cut, Array(stream[cut...]))] {
            var events: [WireEvent] = []
            chunk.withUnsafeBytes { decoder.decode($0, into: &events) }
            for case .frame(let info) in events { frameStart = info.end }
            let result = editor.edit(chunk, base: Int64(base), events: events, betweenFrames: decoder.isBetweenFrames,
                                     unfinishedFrameStart: decoder.isBetweenFrames ? nil : frameStart)
            forwarded += result.bytes
            edits += result.edits
        }
        return (forwarded, edits)
    }

    @Test func dropsAPingSplitAcrossReadsFromItsFirstByte() {
        let text = frame(0x1, Array("hi".utf8)), ping = frame(0x9, [1, 2, 3])
        for cut in (text.count + 1)..<(text.count + ping.count) {
            var editor = StreamEditor(toward: .client)
            editor.dropPings = "p"
            let result = editedInTwoReads(text + ping + text, cut: cut, &editor)
            #expect(result.bytes == text + text, "cut at \(cut)")
            #expect(result.edits == [.droppedPing(faultID: "p")], "cut at \(cut)")
        }
    }

    @Test func setsRSV1OnADataFrameSplitAcrossReads() {
        let ping = frame(0x9, []), text = frame(0x1, Array("hello".utf8))
        var editor = StreamEditor(toward: .client)
        editor.setRSV1Next = "r"
        let result = editedInTwoReads(ping + text, cut: ping.count + 1, &editor)
        #expect(result.bytes == ping + [0xC1] + text.dropFirst())
        #expect(result.edits == [.setRSV1(faultID: "r", frame: 1)])
    }

    @Test func aCloseWaitsForTheFrameBoundaryThenNothingPasses() {
        let message = frame(0x1, Array("hello".utf8))
        var editor = StreamEditor(toward: .client)
        let close: [UInt8] = [0x88, 0x02, 0x03, 0xF5]
        #expect(editor.close(with: close, faultID: "c", betweenFrames: false) == nil)
        // The first chunk ends inside the frame: it passes whole, the close waits.
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .server))
        var events: [WireEvent] = []
        Array(message.prefix(4)).withUnsafeBytes { decoder.decode($0, into: &events) }
        #expect(editor.edit(Array(message.prefix(4)), base: 0, events: events, betweenFrames: decoder.isBetweenFrames).bytes == Array(message.prefix(4)))
        events = []
        let rest = Array(message.dropFirst(4)) + message
        rest.withUnsafeBytes { decoder.decode($0, into: &events) }
        let result = editor.edit(rest, base: 4, events: events, betweenFrames: decoder.isBetweenFrames)
        #expect(result.bytes == Array(message.dropFirst(4)) + close)
        #expect(result.edits == [.sentClose(faultID: "c")])
        #expect(editor.edit(message, base: 100, events: [], betweenFrames: true).bytes.isEmpty)
    }
}
