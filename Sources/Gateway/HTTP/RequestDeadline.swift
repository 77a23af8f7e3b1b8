import NIOCore

/// Closes a connection whose request head does not arrive whole within `limit` of its first
/// byte. A client that sends one byte every few seconds is never idle, so the idle timeout
/// alone would let it hold a connection (and a place under the connection cap) for ever.
///
/// It watches the raw bytes ahead of the HTTP decoder: a request starts with a byte read while
/// none is under way and ends with the blank line after its headers (the API takes no bodies;
/// bytes after the blank line start the next request's clock).
final class RequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let limit: TimeAmount
    let onExpiry: @Sendable () -> Void
    private var timer: Scheduled<Void>?
    /// How many bytes of "\r\n\r\n" the stream has just matched.
    private var matched = 0

    init(limit: TimeAmount, onExpiry: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.onExpiry = onExpiry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { raw in
            for byte in raw {
                if timer == nil { arm(context) }
                matched = RequestDeadline.advance(matched, byte)
                if matched == 4 {
                    matched = 0
                    timer?.cancel()
                    timer = nil
                }
            }
        }
        context.fireChannelRead(data)
    }

    /// The next state of a matcher of "\r\n\r\n" after `byte`.
    static func advance(_ matched: Int, _ byte: UInt8) -> Int {
        let expected: UInt8 = matched % 2 == 0 ? 13 : 10
        if byte == expected { return matched + 1 }
        return byte == 13 ? 1 : 0
    }

    private func arm(_ context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let onExpiry = self.onExpiry
        timer = context.eventLoop.scheduleTask(in: limit) {
            onExpiry()
            loopBound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}
