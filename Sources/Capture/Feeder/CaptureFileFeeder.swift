
/// Reads a capture file and feeds its TCP streams to a ``TCPStreamDelegate``.
///
/// Runs ``PcapFileReader`` → ``PacketDecoder`` → ``TCPReassembler``. If the
/// file turns out to be truncated or unreadable part-way, everything before
/// the bad spot is delivered and the open connections are flushed and ended
/// (``TCPStreamDelegate/captureEnded(_:at:)``) before the error is thrown;
/// ``statistics`` then still describes what was read.
public final class CaptureFileFeeder {
    /// What one run read and skipped.
    public typealias Statistics = CaptureStatistics

    public let path: String
    public let filter: String?
    public let configuration: TCPReassembler.Configuration
    public private(set) var statistics = Statistics()

    /// - Parameters:
    ///   - path: the pcap or pcapng file.
    ///   - filter: an optional BPF filter (tcpdump syntax) applied by libpcap.
    ///   - configuration: reassembly limits and server ports.
    public init(path: String, filter: String? = nil, configuration: TCPReassembler.Configuration = .init()) {
        self.path = path
        self.filter = filter
        self.configuration = configuration
    }

    /// Reads the whole file, reporting to `delegate`, and returns the statistics.
    @discardableResult
    public func run(delegate: any TCPStreamDelegate) throws(CaptureError) -> Statistics {
        statistics = Statistics()
        let stepper = try CaptureFileStepper(path: path, filter: filter, configuration: configuration, delegate: delegate)
        defer { statistics = stepper.statistics }
        while try stepper.step() != nil {}
        return stepper.statistics
    }
}
