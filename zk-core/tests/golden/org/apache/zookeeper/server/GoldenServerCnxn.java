/*
 * Test-only helper for zk-core/tests/golden/GenGolden.java.
 *
 * A do-nothing ServerCnxn whose only job is to run the *real* ZooKeeper 3.8
 * server response serialization (ServerCnxn.serialize, exactly as
 * NIOServerCnxn.sendResponse calls it) and capture the resulting wire bytes.
 * It has to live in package org.apache.zookeeper.server because ServerCnxn has
 * package-private abstract methods (sendBuffer, setSessionId, ...).
 */
package org.apache.zookeeper.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.cert.Certificate;
import java.util.List;
import org.apache.jute.Record;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.ReplyHeader;

public final class GoldenServerCnxn extends ServerCnxn {

    private final ByteArrayOutputStream wire = new ByteArrayOutputStream();

    public GoldenServerCnxn() {
        super(null);
    }

    /**
     * Wire bytes (including the 4-byte frame length) of a reply, produced the
     * way FinalRequestProcessor -> cnxn.sendResponse(hdr, rsp, "response")
     * does it. cacheKey/stat are null and opCode is OpCode.error (-1), which is
     * what the 3-argument ServerCnxn.sendResponse passes; the getData /
     * getChildren2 response cache only changes where identical bytes come from.
     */
    public static byte[] replyFrame(ReplyHeader h, Record r) throws IOException {
        GoldenServerCnxn c = new GoldenServerCnxn();
        c.sendResponse(h, r, "response", null, null, ZooDefs.OpCode.error);
        return c.wire.toByteArray();
    }

    /**
     * Wire bytes of a watch notification, as NIOServerCnxn.process(WatchedEvent, List)
     * builds it in 3.8: new ReplyHeader(ClientCnxn.NOTIFICATION_XID (-1), -1L, 0)
     * + event.getWrapper(), tag "notification", opCode OpCode.error.
     */
    public static byte[] notificationFrame(WatchedEvent event) throws IOException {
        GoldenServerCnxn c = new GoldenServerCnxn();
        c.sendResponse(new ReplyHeader(-1, -1L, 0), event.getWrapper(), "notification", null, null,
                ZooDefs.OpCode.error);
        return c.wire.toByteArray();
    }

    // Same body as NIOServerCnxn.sendResponse minus the throttling bookkeeping.
    @Override
    public int sendResponse(ReplyHeader h, Record r, String tag, String cacheKey, Stat stat, int opCode)
            throws IOException {
        ByteBuffer[] bb = serialize(h, r, tag, cacheKey, stat, opCode);
        int responseSize = bb[0].getInt();
        bb[0].rewind();
        sendBuffer(bb);
        return responseSize;
    }

    @Override
    void sendBuffer(ByteBuffer... buffers) {
        for (ByteBuffer b : buffers) {
            ByteBuffer d = b.duplicate();
            byte[] a = new byte[d.remaining()];
            d.get(a);
            wire.write(a, 0, a.length);
        }
    }

    // ---- everything below is unused -------------------------------------------------

    @Override
    public void close(DisconnectReason reason) {
    }

    @Override
    public void process(WatchedEvent event, List<ACL> znodeAcl) {
        throw new UnsupportedOperationException();
    }

    @Override
    void disableRecv(boolean waitDisableRecv) {
    }

    @Override
    void enableRecv() {
    }

    @Override
    protected ServerStats serverStats() {
        return null; // ServerCnxn.serialize tolerates null
    }

    @Override
    public void sendCloseSession() {
    }

    @Override
    public InetSocketAddress getRemoteSocketAddress() {
        return null;
    }

    @Override
    public int getInterestOps() {
        return 0;
    }

    @Override
    public long getSessionId() {
        return 0;
    }

    @Override
    int getSessionTimeout() {
        return 0;
    }

    @Override
    void setSessionId(long sessionId) {
    }

    @Override
    void setSessionTimeout(int sessionTimeout) {
    }

    @Override
    public boolean isSecure() {
        return false;
    }

    @Override
    public Certificate[] getClientCertificateChain() {
        return null;
    }

    @Override
    public void setClientCertificateChain(Certificate[] chain) {
    }
}
