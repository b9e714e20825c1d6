/*
 * Golden wire-format fixture generator for zk-core.
 *
 * Produces byte-exact ZooKeeper client/server packets using the Apache ZooKeeper
 * 3.8 Java implementation itself (Debian package "zookeeper": zookeeper.jar +
 * zookeeper-jute.jar), so the Rust codec can be checked against the reference
 * implementation rather than against our own reading of the .jute files.
 *
 *   requests  : bytes come from the real org.apache.zookeeper.ClientCnxn$Packet.createBB()
 *               (the method the Java client uses to frame every outgoing packet:
 *               [len][RequestHeader][record] / [len][ConnectRequest][readOnly]).
 *               Request records are built through the client's own helpers where
 *               they are reachable (Op.create/...toRequestRecord(),
 *               MultiOperationRecord(Iterable<Op>), DigestAuthenticationProvider, ...).
 *   responses : bytes come from the real org.apache.zookeeper.server.ServerCnxn.serialize()
 *               (see org/apache/zookeeper/server/GoldenServerCnxn.java), with
 *               MultiResponse/OpResult/WatchedEvent.getWrapper() as the server builds them.
 *               ConnectResponse is framed exactly like ZooKeeperServer.finishSessionInit.
 *
 * The 4-byte frame length is stripped from every .bin (after checking it).
 *
 * Afterwards (unless --no-live) a live cross-check runs the real ZooKeeper
 * client (ZooKeeperAdmin / ZooKeeper) against an in-process fake server:
 * every request frame the client puts on the socket is compared with the
 * matching fixture (xid masked for ordinary requests, since the client
 * numbers them itself), and response fixtures are served back to the client
 * and the values it decodes are checked.
 *
 * Usage: java GenGolden <output-dir> [--no-live]      (see regen.sh)
 */

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.OutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.MultiOperationRecord;
import org.apache.zookeeper.MultiResponse;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.OpCode;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.AddWatchRequest;
import org.apache.zookeeper.proto.AuthPacket;
import org.apache.zookeeper.proto.CheckVersionRequest;
import org.apache.zookeeper.proto.CheckWatchesRequest;
import org.apache.zookeeper.proto.ConnectRequest;
import org.apache.zookeeper.proto.ConnectResponse;
import org.apache.zookeeper.proto.Create2Response;
import org.apache.zookeeper.proto.CreateRequest;
import org.apache.zookeeper.proto.CreateResponse;
import org.apache.zookeeper.proto.CreateTTLRequest;
import org.apache.zookeeper.proto.DeleteRequest;
import org.apache.zookeeper.proto.ErrorResponse;
import org.apache.zookeeper.proto.ExistsRequest;
import org.apache.zookeeper.proto.ExistsResponse;
import org.apache.zookeeper.proto.GetACLRequest;
import org.apache.zookeeper.proto.GetACLResponse;
import org.apache.zookeeper.proto.GetAllChildrenNumberRequest;
import org.apache.zookeeper.proto.GetAllChildrenNumberResponse;
import org.apache.zookeeper.proto.GetChildren2Request;
import org.apache.zookeeper.proto.GetChildren2Response;
import org.apache.zookeeper.proto.GetChildrenRequest;
import org.apache.zookeeper.proto.GetChildrenResponse;
import org.apache.zookeeper.proto.GetDataRequest;
import org.apache.zookeeper.proto.GetDataResponse;
import org.apache.zookeeper.proto.GetEphemeralsRequest;
import org.apache.zookeeper.proto.GetEphemeralsResponse;
import org.apache.zookeeper.proto.ReconfigRequest;
import org.apache.zookeeper.proto.RemoveWatchesRequest;
import org.apache.zookeeper.proto.ReplyHeader;
import org.apache.zookeeper.proto.RequestHeader;
import org.apache.zookeeper.proto.SetACLRequest;
import org.apache.zookeeper.proto.SetACLResponse;
import org.apache.zookeeper.proto.SetDataRequest;
import org.apache.zookeeper.proto.SetDataResponse;
import org.apache.zookeeper.proto.SetWatches;
import org.apache.zookeeper.proto.SetWatches2;
import org.apache.zookeeper.proto.SyncRequest;
import org.apache.zookeeper.proto.SyncResponse;
import org.apache.zookeeper.proto.WhoAmIResponse;
import org.apache.zookeeper.server.EphemeralType;
import org.apache.zookeeper.server.GoldenServerCnxn;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public final class GenGolden {

    // ------------------------------------------------------------------------------------
    // Values shared by the fixtures (and by the live cross-check, which must reproduce them)
    // ------------------------------------------------------------------------------------

    static final byte[] HELLO = "hello".getBytes(StandardCharsets.UTF_8);
    /** binary payload with bytes that break naive sign / text handling */
    static final byte[] BIN = {0x00, 0x01, 0x7f, (byte) 0x80, (byte) 0xfe, (byte) 0xff};
    static final byte[] EMPTY = new byte[0];

    static final String UNI = "/\u00fcn\u00efc\u00f8d\u00e9/\u65e5\u672c"; // "/ünïcødé/日本"
    static final String EMOJI = "/emoji/\uD83D\uDE00"; // "/emoji/😀" (outside the BMP)

    /** Every field distinct, every byte within a field distinct: byte-order / width bugs show. */
    static Stat statA() {
        return new Stat(0x0102030405060708L, 0x1112131415161718L, 0x2122232425262728L, 0x3132333435363738L,
                0x41424344, 0x51525354, 0x61626364, 0x7172737475767778L, 0x0A0B0C0D, 0x1A1B1C1D,
                0x0F0E0D0C0B0A0908L);
    }

    /** Realistic-looking Stat with sign bits set (negative cversion, negative ephemeralOwner). */
    static Stat statB() {
        return new Stat(0x0000000100000002L, 0x0000000100000009L, 1700000000123L, 1700000456789L,
                7, -2, 1, 0x8100000000000001L, 5, 0, 0x0000000100000002L);
    }

    static final int CLIENT_A_TIMEOUT = 30000;
    static final int CLIENT_B_TIMEOUT = 20000;
    static final int NEGOTIATED_TIMEOUT = 4000; // small so that the live client pings quickly
    static final long SESSION_ID = 0x0A1B2C3D4E5F6071L;
    static final byte[] SESSION_PASSWD = range(0xA0, 16);
    /** zxid of resp_getchildren; becomes lastZxidSeen / SetWatches.relativeZxid in the live run */
    static final long ZXID_SW1 = 0x0000001122334455L;
    /** zxid of resp_addwatch; becomes SetWatches2.relativeZxid in the live run */
    static final long ZXID_SW2 = 0x0000001122334466L;

    static final String P_NODE = "/golden/node";
    static final String P_MISSING = "/golden/missing";
    static final String P_DATA = "/golden/w/data";
    static final String P_EXIST = "/golden/w/exist";
    static final String P_CHILD = "/golden/w/child";
    static final String P_PERS = "/golden/w/persistent";
    static final String P_REC = "/golden/w/recursive";
    static final String P_CHECKW = "/golden/w/check";
    static final String P_REMOVEW = "/golden/w/remove";

    static final String JOINING = "server.4=10.0.0.4:2888:3888:participant;0.0.0.0:2181";
    static final String LEAVING = "2,3";
    static final String NEW_MEMBERS = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181,"
            + "server.2=10.0.0.2:2888:3888:participant;0.0.0.0:2181";
    static final byte[] RECONFIG_DATA = ("server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n"
            + "server.4=10.0.0.4:2888:3888:participant;0.0.0.0:2181\nversion=100000000")
            .getBytes(StandardCharsets.UTF_8);

    static List<ACL> openAcl() {
        return new ArrayList<>(ZooDefs.Ids.OPEN_ACL_UNSAFE); // [31, world:anyone]
    }

    static List<ACL> creatorAllAcl() {
        return new ArrayList<>(ZooDefs.Ids.CREATOR_ALL_ACL); // [31, auth:]
    }

    static List<ACL> readAcl() {
        return new ArrayList<>(ZooDefs.Ids.READ_ACL_UNSAFE); // [1, world:anyone]
    }

    /** world:anyone READ, digest user:pass ALL (real DigestAuthenticationProvider hash), ip RW */
    static List<ACL> mixedAcl() {
        try {
            return new ArrayList<>(Arrays.asList(
                    new ACL(Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE),
                    new ACL(Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("user:pass"))),
                    new ACL(Perms.READ | Perms.WRITE, new Id("ip", "10.0.0.0/8"))));
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    static byte[] range(int start, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (start + i);
        }
        return b;
    }

    // ------------------------------------------------------------------------------------
    // Fixture bookkeeping
    // ------------------------------------------------------------------------------------

    static final class Fixture {
        String file;
        String direction; // "req" | "resp"
        String kind; // body record class, null when header-only
        Integer opcode; // request opcode (for a response: opcode of the request it answers)
        String opName;
        Integer xid; // null for connect packets (no header)
        Object header; // JSON tree (RequestHeader / ReplyHeader) or null
        Object fields; // JSON tree of the body or null
        byte[] bytes; // without frame length
        String source;
        String notes;
        String live; // live cross-check outcome, null = not covered
    }

    static final Map<String, Fixture> FX = new LinkedHashMap<>();
    static int nextReqXid = 1;
    static int nextRespXid = 0x101;
    static long nextZxid = 0x0000000200000001L;

    static Fixture fx(String name) {
        Fixture f = FX.get(name);
        if (f == null) {
            throw new IllegalStateException("no fixture " + name);
        }
        return f;
    }

    static Fixture add(Fixture f) {
        if (FX.put(f.file.replace(".bin", ""), f) != null) {
            throw new IllegalStateException("duplicate " + f.file);
        }
        return f;
    }

    static String opName(int op) {
        try {
            for (Field fl : OpCode.class.getFields()) {
                if (fl.getType() == int.class && fl.getInt(null) == op) {
                    return fl.getName();
                }
            }
        } catch (IllegalAccessException e) {
            throw new RuntimeException(e);
        }
        return String.valueOf(op);
    }

    /** Strip and verify the 4-byte big-endian frame length. */
    static byte[] unframe(byte[] framed) {
        int len = ByteBuffer.wrap(framed).getInt();
        if (len != framed.length - 4) {
            throw new IllegalStateException("frame length " + len + " != " + (framed.length - 4));
        }
        return Arrays.copyOfRange(framed, 4, framed.length);
    }

    // ---- requests: the real ClientCnxn.Packet.createBB() ---------------------------------

    static byte[] clientPacket(RequestHeader h, Record request, boolean readOnly) {
        try {
            Class<?> pc = Class.forName("org.apache.zookeeper.ClientCnxn$Packet");
            Class<?> wr = Class.forName("org.apache.zookeeper.ZooKeeper$WatchRegistration");
            Constructor<?> c = pc.getDeclaredConstructor(RequestHeader.class, ReplyHeader.class, Record.class,
                    Record.class, wr, boolean.class);
            c.setAccessible(true);
            Object p = c.newInstance(h, new ReplyHeader(), request, null, null, readOnly);
            Method m = pc.getDeclaredMethod("createBB");
            m.setAccessible(true);
            m.invoke(p);
            Field bbf = pc.getDeclaredField("bb");
            bbf.setAccessible(true);
            ByteBuffer bb = ((ByteBuffer) bbf.get(p)).duplicate();
            byte[] framed = new byte[bb.remaining()];
            bb.get(framed);
            return unframe(framed);
        } catch (ReflectiveOperationException e) {
            throw new RuntimeException(e);
        }
    }

    static Fixture req(String name, int xid, int op, Record body, String notes) {
        Fixture f = new Fixture();
        f.file = name + ".bin";
        f.direction = "req";
        f.opcode = op;
        f.opName = opName(op);
        f.xid = xid;
        RequestHeader h = new RequestHeader(xid, op);
        f.header = JsonArchive.tree(h);
        f.kind = body == null ? null : body.getClass().getSimpleName();
        f.fields = body == null ? null : JsonArchive.tree(body);
        f.bytes = clientPacket(h, body, false);
        f.source = "ClientCnxn$Packet.createBB()";
        f.notes = notes;
        return add(f);
    }

    static Fixture req(String name, int op, Record body, String notes) {
        return req(name, nextReqXid++, op, body, notes);
    }

    static Fixture connectReq(String name, ConnectRequest cr, Boolean readOnly, String notes) {
        Fixture f = new Fixture();
        f.file = name + ".bin";
        f.direction = "req";
        f.kind = "ConnectRequest";
        f.opName = "connect";
        f.header = null;
        @SuppressWarnings("unchecked")
        Map<String, Object> fields = (Map<String, Object>) JsonArchive.tree(cr);
        fields.put("readOnly", readOnly);
        f.fields = fields;
        if (readOnly != null) {
            f.bytes = clientPacket(null, cr, readOnly);
            f.source = "ClientCnxn$Packet.createBB() (ConnectRequest + writeBool(readOnly))";
        } else {
            // What a 3.3.x ClientCnxn sent: [len][ConnectRequest], nothing after it.
            f.bytes = serializeAlone(cr, null);
            f.source = "ConnectRequest.serialize() alone (pre-3.4 client framing)";
        }
        f.notes = notes;
        return add(f);
    }

    // ---- responses: the real ServerCnxn.serialize() --------------------------------------

    static Fixture resp(String name, int xid, long zxid, int err, int forOp, Record body, String notes) {
        Fixture f = new Fixture();
        f.file = name + ".bin";
        f.direction = "resp";
        f.opcode = forOp;
        f.opName = opName(forOp);
        f.xid = xid;
        ReplyHeader h = new ReplyHeader(xid, zxid, err);
        f.header = JsonArchive.tree(h);
        f.kind = body == null ? null : body.getClass().getSimpleName();
        f.fields = body == null ? null : JsonArchive.tree(body);
        try {
            f.bytes = unframe(GoldenServerCnxn.replyFrame(h, body));
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        f.source = "ServerCnxn.serialize() (NIOServerCnxn.sendResponse path)";
        f.notes = notes;
        return add(f);
    }

    static Fixture resp(String name, int forOp, Record body, String notes) {
        return resp(name, nextRespXid++, nextZxid++, 0, forOp, body, notes);
    }

    static Fixture notification(String name, WatchedEvent ev, String notes) {
        Fixture f = new Fixture();
        f.file = name + ".bin";
        f.direction = "resp";
        f.opcode = OpCode.error;
        f.opName = "notification";
        f.xid = -1;
        f.header = JsonArchive.tree(new ReplyHeader(-1, -1L, 0));
        Record body = ev.getWrapper();
        f.kind = body.getClass().getSimpleName();
        f.fields = JsonArchive.tree(body);
        try {
            f.bytes = unframe(GoldenServerCnxn.notificationFrame(ev));
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        f.source = "ServerCnxn.serialize() as NIOServerCnxn.process(WatchedEvent) calls it";
        f.notes = notes;
        return add(f);
    }

    /** ZooKeeperServer.finishSessionInit: [len][ConnectResponse] + writeBool(readOnly) unless isOldClient. */
    static Fixture connectResp(String name, ConnectResponse cr, Boolean readOnly, String notes) {
        Fixture f = new Fixture();
        f.file = name + ".bin";
        f.direction = "resp";
        f.kind = "ConnectResponse";
        f.opName = "connect";
        @SuppressWarnings("unchecked")
        Map<String, Object> fields = (Map<String, Object>) JsonArchive.tree(cr);
        fields.put("readOnly", readOnly);
        f.fields = fields;
        f.bytes = serializeAlone(cr, readOnly);
        f.source = "ZooKeeperServer.finishSessionInit framing (ConnectResponse"
                + (readOnly == null ? ", isOldClient: no readOnly byte)" : " + writeBool(readOnly))");
        f.notes = notes;
        return add(f);
    }

    static byte[] serializeAlone(Record r, Boolean trailingBool) {
        try {
            ByteArrayOutputStream baos = new ByteArrayOutputStream();
            BinaryOutputArchive boa = BinaryOutputArchive.getArchive(baos);
            boa.writeInt(-1, "len");
            r.serialize(boa, "connect");
            if (trailingBool != null) {
                boa.writeBool(trailingBool, "readOnly");
            }
            baos.close();
            ByteBuffer bb = ByteBuffer.wrap(baos.toByteArray());
            bb.putInt(bb.capacity() - 4);
            return unframe(bb.array());
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    // ------------------------------------------------------------------------------------
    // The fixture set
    // ------------------------------------------------------------------------------------

    /** Opcode + record exactly as ZooKeeper.create(path, data, acl, mode) builds them (3.8). */
    static Object[] createViaCreateApi(String path, byte[] data, List<ACL> acl, CreateMode mode) {
        int op = mode.isContainer() ? OpCode.createContainer : OpCode.create;
        CreateRequest r = new CreateRequest(path, data, acl, mode.toFlag());
        // Cross-check against the client's own Op.create record builder.
        Record viaOp = Op.create(path, data, acl, mode).toRequestRecord();
        if (!viaOp.equals(r)) {
            throw new IllegalStateException("Op.create record differs for " + path);
        }
        return new Object[] {op, r};
    }

    /**
     * Opcode + record as ZooKeeper.create(path, data, acl, mode, stat[, ttl]) builds them:
     * setCreateHeader() -> createTTL / createContainer / create2, makeCreateRecord() ->
     * CreateTTLRequest for TTL modes else CreateRequest.
     */
    static Object[] createViaCreate2Api(String path, byte[] data, List<ACL> acl, CreateMode mode, long ttl) {
        int op = mode.isTTL() ? OpCode.createTTL : mode.isContainer() ? OpCode.createContainer : OpCode.create2;
        Record r = mode.isTTL() ? new CreateTTLRequest(path, data, acl, mode.toFlag(), ttl)
                : new CreateRequest(path, data, acl, mode.toFlag());
        Op o = mode.isTTL() ? Op.create(path, data, acl, mode, ttl) : Op.create(path, data, acl, mode);
        if (!o.toRequestRecord().equals(r)) {
            throw new IllegalStateException("Op.create record differs for " + path);
        }
        return new Object[] {op, r};
    }

    static List<Op> multiOps() {
        return Arrays.asList(
                Op.create("/golden/multi/a", HELLO, openAcl(), CreateMode.PERSISTENT),
                Op.delete("/golden/multi/b", 3),
                Op.setData("/golden/multi/c", BIN, -1),
                Op.check("/golden/multi/d", 0x01020304));
    }

    static List<Op> multiCreateModeOps() {
        return Arrays.asList(
                Op.create("/golden/multi/eseq-", EMPTY, creatorAllAcl(), CreateMode.EPHEMERAL_SEQUENTIAL),
                Op.create("/golden/multi/container", null, openAcl(), CreateMode.CONTAINER),
                Op.create("/golden/multi/ttl", HELLO, openAcl(), CreateMode.PERSISTENT_WITH_TTL, 60000L),
                Op.delete(UNI, -1));
    }

    static List<Op> multiReadOps() {
        return Arrays.asList(Op.getData(P_NODE), Op.getChildren("/golden"), Op.getData(P_MISSING));
    }

    static List<OpResult> multiResults() {
        return Arrays.asList(
                new OpResult.CreateResult("/golden/multi/a"),
                new OpResult.DeleteResult(),
                new OpResult.SetDataResult(statA()),
                new OpResult.CheckResult());
    }

    static List<OpResult> multiCreateModeResults() {
        // FinalRequestProcessor: create -> CreateResult(path) (type create),
        // createContainer/createTTL/create2 -> CreateResult(path, stat) (type create2)
        return Arrays.asList(
                new OpResult.CreateResult("/golden/multi/eseq-0000000003"),
                new OpResult.CreateResult("/golden/multi/container", statB()),
                new OpResult.CreateResult("/golden/multi/ttl", statA()),
                new OpResult.DeleteResult());
    }

    static List<OpResult> multiFailedResults() {
        // DataTree.processTxn(multi): ops before the failing one become ErrorTxn(OK=0), the failing op
        // carries its code, ops after it become ErrorTxn(RUNTIMEINCONSISTENCY=-2).
        return Arrays.asList(
                new OpResult.ErrorResult(KeeperException.Code.OK.intValue()),
                new OpResult.ErrorResult(KeeperException.Code.BADVERSION.intValue()),
                new OpResult.ErrorResult(KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()),
                new OpResult.ErrorResult(KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()));
    }

    static List<OpResult> multiReadResults() {
        return Arrays.asList(
                new OpResult.GetDataResult(HELLO, statA()),
                new OpResult.GetChildrenResult(Arrays.asList("a", "b")),
                new OpResult.ErrorResult(KeeperException.Code.NONODE.intValue()));
    }

    static MultiResponse multiResponse(List<OpResult> results) {
        MultiResponse r = new MultiResponse();
        for (OpResult o : results) {
            r.add(o);
        }
        return r;
    }

    static List<ClientInfo> whoAmIInfo() {
        return Arrays.asList(new ClientInfo("ip", "127.0.0.1"), new ClientInfo("digest", "user"));
    }

    static void buildAll() {
        // ---------------- requests ----------------
        connectReq("req_connect", new ConnectRequest(0, 0L, CLIENT_A_TIMEOUT, 0L, new byte[16]), false,
                "first connect of a fresh client: sessionId 0, 16 zero bytes of password, readOnly=false");
        connectReq("req_connect_readonly", new ConnectRequest(0, 0L, CLIENT_B_TIMEOUT, 0L, new byte[16]), true,
                "first connect of a client created with canBeReadOnly=true");
        connectReq("req_connect_reconnect_readonly",
                new ConnectRequest(0, ZXID_SW1, CLIENT_B_TIMEOUT, SESSION_ID, SESSION_PASSWD), true,
                "session re-establishment after a connection loss (canBeReadOnly=true client)");
        connectReq("req_connect_v33_noreadonly",
                new ConnectRequest(0, ZXID_SW1, CLIENT_B_TIMEOUT, SESSION_ID, SESSION_PASSWD), null,
                "same values as req_connect_reconnect_readonly, but as a 3.3 client sends it: no trailing readOnly "
                        + "byte at all (frame is 1 byte shorter). A server must accept both.");

        req("req_auth_digest", -4, OpCode.auth,
                new AuthPacket(0, "digest", "user:pass".getBytes(StandardCharsets.UTF_8)),
                "ZooKeeper.addAuthInfo(\"digest\", \"user:pass\"): AUTHPACKET_XID=-4, type field always 0");

        // create: every CreateMode flag 0..6 at least twice
        Object[][] creates = {
            createViaCreateApi("/golden/persistent", HELLO, openAcl(), CreateMode.PERSISTENT),
            createViaCreateApi("/golden/ephemeral", BIN, creatorAllAcl(), CreateMode.EPHEMERAL),
            createViaCreateApi("/golden/pseq-", EMPTY, readAcl(), CreateMode.PERSISTENT_SEQUENTIAL),
            createViaCreateApi("/golden/eseq-", HELLO, mixedAcl(), CreateMode.EPHEMERAL_SEQUENTIAL),
            createViaCreateApi("/golden/container", null, openAcl(), CreateMode.CONTAINER),
        };
        String[] createNames = {"req_create_persistent", "req_create_ephemeral", "req_create_persistent_sequential",
            "req_create_ephemeral_sequential", "req_create_container"};
        for (int i = 0; i < creates.length; i++) {
            req(createNames[i], (Integer) creates[i][0], (Record) creates[i][1],
                    "ZooKeeper.create(path, data, acl, mode) (no Stat)"
                            + (i == 4 ? "; container -> opcode createContainer(19), data null -> length -1" : ""));
        }
        Object[][] creates2 = {
            createViaCreate2Api("/golden/p2", null, openAcl(), CreateMode.PERSISTENT, -1),
            createViaCreate2Api(UNI, HELLO, openAcl(), CreateMode.EPHEMERAL, -1),
            createViaCreate2Api("/golden/p2seq-", BIN, creatorAllAcl(), CreateMode.PERSISTENT_SEQUENTIAL, -1),
            createViaCreate2Api("/golden/e2seq-", EMPTY, openAcl(), CreateMode.EPHEMERAL_SEQUENTIAL, -1),
            createViaCreate2Api("/golden/container2", HELLO, openAcl(), CreateMode.CONTAINER, -1),
            createViaCreate2Api("/golden/ttl", HELLO, openAcl(), CreateMode.PERSISTENT_WITH_TTL, 0x0102030405L),
            createViaCreate2Api("/golden/ttlseq-", null, openAcl(), CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 1L),
            createViaCreate2Api("/golden/ttl-b", BIN, mixedAcl(), CreateMode.PERSISTENT_WITH_TTL, 3600000L),
            createViaCreate2Api(UNI + "/ttlseq-", EMPTY, creatorAllAcl(),
                    CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, EphemeralType.TTL.maxValue()),
        };
        String[] create2Names = {"req_create2_persistent", "req_create2_ephemeral_unicode",
            "req_create2_persistent_sequential", "req_create2_ephemeral_sequential", "req_create2_container",
            "req_create_ttl_persistent", "req_create_ttl_persistent_sequential", "req_create_ttl_persistent_b",
            "req_create_ttl_persistent_sequential_b"};
        for (int i = 0; i < creates2.length; i++) {
            req(create2Names[i], (Integer) creates2[i][0], (Record) creates2[i][1],
                    "ZooKeeper.create(path, data, acl, mode, stat" + (i >= 5 ? ", ttl" : "") + ")"
                            + (i >= 5 ? "; TTL modes only exist on this API -> createTTL(21) + CreateTTLRequest" : "")
                            + (i == 4 ? "; container still uses createContainer(19), not create2" : ""));
        }

        req("req_delete", OpCode.delete, new DeleteRequest("/golden/persistent", -1), "version -1 = any");
        req("req_delete_version", OpCode.delete, new DeleteRequest(UNI, 0x0A0B0C0D), null);
        req("req_exists_watch", OpCode.exists, new ExistsRequest(P_NODE, true), null);
        req("req_exists_nowatch", OpCode.exists, new ExistsRequest(P_MISSING, false), null);
        req("req_getdata_watch", OpCode.getData, new GetDataRequest(P_NODE, true), null);
        req("req_getdata_unicode", OpCode.getData, new GetDataRequest(UNI, false),
                "BMP-only non-ASCII path: jute output is ordinary UTF-8");
        req("req_getdata_emoji", OpCode.getData, new GetDataRequest(EMOJI, false),
                "SURPRISE: jute's BinaryOutputArchive.writeString encodes each UTF-16 code unit separately, so a "
                        + "supplementary character is sent as a CESU-8 surrogate pair (ed a0 bd ed b8 80), not "
                        + "UTF-8 (f0 9f 98 80); the length prefix counts those 6 bytes. Java's own "
                        + "BinaryInputArchive decodes it back as U+FFFD U+FFFD. A UTF-8 encoder of the same "
                        + "string will NOT reproduce these bytes. The client API never sends this for a path "
                        + "(PathUtils.validatePath rejects U+D800..U+F8FF, U+FFF0..U+FFFF and control chars), but "
                        + "other ustring fields (ACL ids, auth scheme, reconfig strings, ...) are not validated. "
                        + "Built directly, not via the API.");
        req("req_setdata", OpCode.setData, new SetDataRequest(P_NODE, BIN, 0x01020304), null);
        req("req_setdata_null", OpCode.setData, new SetDataRequest(P_NODE, null, -1),
                "null data -> buffer length -1, no bytes");
        req("req_setdata_empty", OpCode.setData, new SetDataRequest(P_NODE, EMPTY, 0),
                "empty data -> buffer length 0");
        req("req_getacl", OpCode.getACL, new GetACLRequest(P_NODE), null);
        req("req_setacl", OpCode.setACL, new SetACLRequest(P_NODE, mixedAcl(), 0x11223344),
                "ACLs: world:anyone READ, digest user:<sha1-base64> ALL "
                        + "(DigestAuthenticationProvider.generateDigest(\"user:pass\")), ip 10.0.0.0/8 READ|WRITE");
        req("req_getchildren", OpCode.getChildren, new GetChildrenRequest("/golden", false), null);
        req("req_getchildren2", OpCode.getChildren2, new GetChildren2Request("/golden", true),
                "ZooKeeper.getChildren(path, watch, stat)");
        req("req_sync", OpCode.sync, new SyncRequest("/golden"), null);
        req("req_ping", -2, OpCode.ping, null, "PING_XID=-2, header only");
        req("req_check", OpCode.check, new CheckVersionRequest(P_NODE, 0x01020304),
                "standalone check (opcode 13): the 3.8 client has no public API for it (3.9 added "
                        + "ZooKeeper.check); built by hand with the same framing");

        MultiOperationRecord multi = new MultiOperationRecord(multiOps());
        req("req_multi", OpCode.multi, multi,
                "new MultiOperationRecord(ops) as ZooKeeper.multi does. Each op = MultiHeader{type=op, "
                        + "done=false, err=-1} + op record; terminated by MultiHeader{-1, true, -1}. "
                        + "check -> CheckVersionRequest");
        req("req_multi_create_modes", OpCode.multi, new MultiOperationRecord(multiCreateModeOps()),
                "inside multi the MultiHeader.type carries the create flavour: EPHEMERAL_SEQUENTIAL -> create(1) + "
                        + "CreateRequest, CONTAINER -> createContainer(19) + CreateRequest, TTL -> createTTL(21) + "
                        + "CreateTTLRequest");
        MultiOperationRecord multiRead = new MultiOperationRecord(multiReadOps());
        int multiReadOp = multiRead.getOpKind() == Op.OpKind.TRANSACTION ? OpCode.multi : OpCode.multiRead;
        req("req_multiread", multiReadOp, multiRead,
                "all-read ops -> ZooKeeper.multi picks opcode multiRead(22); Op.getData/Op.getChildren records "
                        + "always have watch=false");

        req("req_reconfig_incremental", OpCode.reconfig, new ReconfigRequest(JOINING, LEAVING, null, -1L),
                "ZooKeeperAdmin.reconfigure(joining, leaving, null, -1, stat): null ustring -> length -1");
        req("req_reconfig_nonincremental", OpCode.reconfig,
                new ReconfigRequest(null, null, NEW_MEMBERS, 0x0000000100000000L), null);
        req("req_checkwatches", OpCode.checkWatches,
                new CheckWatchesRequest(P_CHECKW, Watcher.WatcherType.Data.getIntValue()),
                "ZooKeeper.removeWatches(path, watcher, Data, false) -> checkWatches(17); type 1=Children 2=Data 3=Any");
        req("req_removewatches", OpCode.removeWatches,
                new RemoveWatchesRequest(P_REMOVEW, Watcher.WatcherType.Any.getIntValue()),
                "ZooKeeper.removeAllWatches(path, Any, false) -> removeWatches(18)");

        req("req_setwatches", -8, OpCode.setWatches,
                new SetWatches(ZXID_SW1, list(P_DATA), list(P_EXIST), list(P_CHILD)),
                "sent by ClientCnxn.primeConnection after a reconnect when no persistent watches exist; "
                        + "relativeZxid=lastZxidSeen. xid -8 = SET_WATCHES_XID, which is what primeConnection puts "
                        + "in the header (and what the C client sends), BUT the 3.8 Java client's "
                        + "ClientCnxnSocketNIO.doIO overwrites the xid of every packet except ping(11)/auth(100) "
                        + "with the next ordinary xid just before createBB(), so on the wire it carries an "
                        + "ordinary positive xid. A server must accept either and echo it.");
        req("req_setwatches2", -8, OpCode.setWatches2,
                new SetWatches2(ZXID_SW2, list(P_DATA), list(P_EXIST), list(P_CHILD), list(P_PERS), list(P_REC)),
                "used instead of setWatches as soon as any persistent / persistent-recursive watch exists; "
                        + "same xid caveat as req_setwatches (3.8 Java client really sends an ordinary xid)");
        req("req_setwatches2_lists", -8, OpCode.setWatches2,
                new SetWatches2(0x0102030405060708L, list("/a", "/b/c"), list(), list(UNI), list("/"),
                        list("/x", "/y", "/z")),
                "multi-element and empty (length 0) vectors");

        req("req_getephemerals", OpCode.getEphemerals, new GetEphemeralsRequest("/golden"), null);
        req("req_getallchildrennumber", OpCode.getAllChildrenNumber, new GetAllChildrenNumberRequest("/golden"), null);
        req("req_addwatch_persistent", OpCode.addWatch,
                new AddWatchRequest(P_PERS, ZooDefs.AddWatchModes.persistent), "mode 0 = PERSISTENT");
        req("req_addwatch_persistent_recursive", OpCode.addWatch,
                new AddWatchRequest(P_REC, ZooDefs.AddWatchModes.persistentRecursive), "mode 1 = PERSISTENT_RECURSIVE");
        req("req_whoami", OpCode.whoAmI, null, "header only");
        req("req_closesession", OpCode.closeSession, null, "header only; ordinary xid");

        // ---------------- responses ----------------
        connectResp("resp_connect", new ConnectResponse(0, NEGOTIATED_TIMEOUT, SESSION_ID, SESSION_PASSWD), false,
                "normal (read-write) server answering a >=3.4 client");
        connectResp("resp_connect_readonly_server",
                new ConnectResponse(0, NEGOTIATED_TIMEOUT, SESSION_ID, SESSION_PASSWD), true,
                "answer from a ReadOnlyZooKeeperServer");
        connectResp("resp_connect_v33_noreadonly",
                new ConnectResponse(0, NEGOTIATED_TIMEOUT, SESSION_ID, SESSION_PASSWD), null,
                "answer to a client whose ConnectRequest had no readOnly byte (cnxn.isOldClient): no readOnly byte");
        connectResp("resp_connect_session_expired", new ConnectResponse(0, 0, 0L, new byte[16]), false,
                "invalid/expired session: finishSessionInit(valid=false) sends timeOut 0, sessionId 0, 16 zero bytes");

        resp("resp_auth_ok", -4, 0L, 0, OpCode.auth, null, "ZooKeeperServer.processPacket: ReplyHeader(-4, 0, err)");
        resp("resp_auth_failed", -4, 0L, KeeperException.Code.AUTHFAILED.intValue(), OpCode.auth, null,
                "err -115 AUTHFAILED (server closes the connection afterwards)");
        resp("resp_ping", -2, nextZxid++, 0, OpCode.ping, null, "header only");
        resp("resp_setwatches", -8, nextZxid++, 0, OpCode.setWatches, null,
                "header only; the server echoes the request's xid (-8 here; an ordinary xid for a 3.8 Java "
                        + "client, see req_setwatches)");
        resp("resp_create", OpCode.create, new CreateResponse("/golden/pseq-0000000007"), null);
        resp("resp_create2", OpCode.create2, new Create2Response("/golden/e2seq-0000000042", statA()),
                "also the reply to createContainer(19) and createTTL(21), even when the client used the "
                        + "Stat-less create() API (it then reads only the path)");
        resp("resp_delete", OpCode.delete, null, "header only, err 0");
        resp("resp_exists", OpCode.exists, new ExistsResponse(statA()), null);
        resp("resp_error_nonode", nextRespXid++, nextZxid++, KeeperException.Code.NONODE.intValue(), OpCode.getData,
                null, "any failed request: header only, err -101 NONODE, no body (same for exists on a missing node)");
        resp("resp_getdata", OpCode.getData, new GetDataResponse(HELLO, statA()),
                "statA.dataLength deliberately does not match the payload");
        resp("resp_getdata_null", OpCode.getData, new GetDataResponse(null, statB()), "null data -> length -1");
        resp("resp_getdata_empty", OpCode.getData, new GetDataResponse(EMPTY, statB()), "empty data -> length 0");
        resp("resp_setdata", OpCode.setData, new SetDataResponse(statA()), null);
        resp("resp_getacl", OpCode.getACL, new GetACLResponse(mixedAcl(), statB()), null);
        resp("resp_setacl", OpCode.setACL, new SetACLResponse(statB()), null);
        resp("resp_getchildren", nextRespXid++, ZXID_SW1, 0, OpCode.getChildren,
                new GetChildrenResponse(list("a", "b-0000000001", "\u00fcn\u00efc\u00f8d\u00e9")), null);
        resp("resp_getchildren_empty", OpCode.getChildren, new GetChildrenResponse(list()),
                "empty vector -> count 0");
        resp("resp_getchildren2", OpCode.getChildren2, new GetChildren2Response(list("x", "y"), statA()), null);
        resp("resp_sync", OpCode.sync, new SyncResponse("/golden"), null);
        resp("resp_check", OpCode.check, new SetDataResponse(statB()),
                "3.8 FinalRequestProcessor answers a standalone check(13) with a SetDataResponse(stat)");
        resp("resp_multi", OpCode.multi, multiResponse(multiResults()),
                "per result MultiHeader{type, done=false, err=0} + body; delete and check results have NO body; "
                        + "terminated by MultiHeader{-1, true, -1}");
        resp("resp_multi_create_modes", OpCode.multi, multiResponse(multiCreateModeResults()),
                "create -> type 1 + CreateResponse(path); container/TTL creates come back as type 15 (create2) + "
                        + "Create2Response(path, stat)");
        resp("resp_multi_failed", OpCode.multi, multiResponse(multiFailedResults()),
                "failed transaction: ReplyHeader.err is 0 (!) - the failure is only inside. EVERY result is an "
                        + "ErrorResult: MultiHeader{type=-1, done=false, err=e} followed by ErrorResponse{err=e} "
                        + "(code written twice). Ops before the failing one carry 0, the failing op its code "
                        + "(-103 BADVERSION), ops after it -2 RUNTIMEINCONSISTENCY.");
        resp("resp_multiread", OpCode.multiRead, multiResponse(multiReadResults()),
                "multiRead: each op independent; a failed read is an ErrorResult (type -1, err -101 + "
                        + "ErrorResponse), the others still succeed; header err 0");
        resp("resp_reconfig", OpCode.reconfig, new GetDataResponse(RECONFIG_DATA, statB()),
                "reconfig answers with GetDataResponse(new config, stat)");
        resp("resp_getephemerals", OpCode.getEphemerals,
                new GetEphemeralsResponse(list("/golden/e1", "/golden/ephemeral")), null);
        resp("resp_getallchildrennumber", OpCode.getAllChildrenNumber, new GetAllChildrenNumberResponse(0x01020304),
                null);
        resp("resp_whoami", OpCode.whoAmI, new WhoAmIResponse(whoAmIInfo()), null);
        resp("resp_addwatch", nextRespXid++, ZXID_SW2, 0, OpCode.addWatch, new ErrorResponse(0),
                "3.8 server answers addWatch with header + ErrorResponse(0) (a 4-byte body)");
        resp("resp_closesession", OpCode.closeSession, null, "header only");
        notification("resp_notification",
                new WatchedEvent(Watcher.Event.EventType.NodeDataChanged, Watcher.Event.KeeperState.SyncConnected,
                        P_DATA),
                "NOTIFICATION_XID=-1, zxid -1, err 0; type 3 NodeDataChanged, state 3 SyncConnected");
        notification("resp_notification_unicode",
                new WatchedEvent(Watcher.Event.EventType.NodeChildrenChanged, Watcher.Event.KeeperState.SyncConnected,
                        UNI),
                "type 4 NodeChildrenChanged");
    }

    static List<String> list(String... s) {
        return new ArrayList<>(Arrays.asList(s));
    }

    // ------------------------------------------------------------------------------------
    // JSON tree of a jute record, produced by the record's own serialize() -> field names,
    // order and nesting are exactly the jute schema's.
    // ------------------------------------------------------------------------------------

    /** byte[] marker so the JSON writer emits hex and the markdown renderer knows it is a buffer */
    static final class Hex {
        final byte[] b;

        Hex(byte[] b) {
            this.b = b;
        }
    }

    static final class JsonArchive implements OutputArchive {
        private abstract static class Frame {
            String tag;
        }

        private static final class Rec extends Frame {
            Record r;
            Map<String, Object> m = new LinkedHashMap<>();
        }

        private static final class Vec extends Frame {
            List<Object> l = new ArrayList<>();
            boolean isNull;
        }

        private static final class Seq extends Frame {
            boolean response;
            List<Map<String, Object>> items = new ArrayList<>();
        }

        private final Deque<Frame> stack = new ArrayDeque<>();
        private Object root;

        static Object tree(Record r) {
            JsonArchive a = new JsonArchive();
            try {
                r.serialize(a, "root");
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
            return a.root;
        }

        private void put(String tag, Object v) {
            Frame top = stack.peek();
            if (top == null) {
                root = v;
            } else if (top instanceof Rec) {
                ((Rec) top).m.put(tag, v);
            } else if (top instanceof Vec) {
                ((Vec) top).l.add(v);
            } else {
                throw new IllegalStateException("primitive directly inside multi record");
            }
        }

        @Override
        public void writeByte(byte b, String tag) {
            put(tag, (int) b);
        }

        @Override
        public void writeBool(boolean b, String tag) {
            put(tag, b);
        }

        @Override
        public void writeInt(int i, String tag) {
            put(tag, i);
        }

        @Override
        public void writeLong(long l, String tag) {
            put(tag, l);
        }

        @Override
        public void writeFloat(float f, String tag) {
            put(tag, (double) f);
        }

        @Override
        public void writeDouble(double d, String tag) {
            put(tag, d);
        }

        @Override
        public void writeString(String s, String tag) {
            put(tag, s);
        }

        @Override
        public void writeBuffer(byte[] buf, String tag) {
            put(tag, buf == null ? null : new Hex(buf));
        }

        @Override
        public void writeRecord(Record r, String tag) throws IOException {
            r.serialize(this, tag);
        }

        @Override
        public void startRecord(Record r, String tag) {
            if (r instanceof MultiOperationRecord || r instanceof MultiResponse) {
                Seq s = new Seq();
                s.tag = tag;
                s.response = r instanceof MultiResponse;
                stack.push(s);
            } else {
                Rec f = new Rec();
                f.tag = tag;
                f.r = r;
                stack.push(f);
            }
        }

        @Override
        public void endRecord(Record r, String tag) {
            Frame f = stack.pop();
            Object value;
            if (f instanceof Seq) {
                value = structureMulti((Seq) f);
            } else {
                value = ((Rec) f).m;
            }
            Frame parent = stack.peek();
            if (parent instanceof Seq) {
                Map<String, Object> item = new LinkedHashMap<>();
                item.put("kind", ((Rec) f).r.getClass().getSimpleName());
                item.put("fields", value);
                ((Seq) parent).items.add(item);
            } else {
                put(f.tag, value);
            }
        }

        @SuppressWarnings("unchecked")
        private static Map<String, Object> structureMulti(Seq s) {
            List<Map<String, Object>> entries = new ArrayList<>();
            Map<String, Object> end = null;
            for (Map<String, Object> item : s.items) {
                Map<String, Object> fields = (Map<String, Object>) item.get("fields");
                if ("MultiHeader".equals(item.get("kind"))) {
                    if (Boolean.TRUE.equals(fields.get("done"))) {
                        end = fields;
                    } else {
                        Map<String, Object> e = new LinkedHashMap<>();
                        e.put("header", fields);
                        e.put("kind", null);
                        e.put("fields", null);
                        entries.add(e);
                    }
                } else {
                    Map<String, Object> last = entries.get(entries.size() - 1);
                    last.put("kind", item.get("kind"));
                    last.put("fields", fields);
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put(s.response ? "results" : "ops", entries);
            m.put("end", end);
            return m;
        }

        @Override
        public void startVector(List<?> v, String tag) {
            Vec f = new Vec();
            f.tag = tag;
            f.isNull = v == null;
            stack.push(f);
        }

        @Override
        public void endVector(List<?> v, String tag) {
            Vec f = (Vec) stack.pop();
            put(f.tag, f.isNull ? null : f.l);
        }

        @Override
        public void startMap(TreeMap<?, ?> v, String tag) {
            throw new UnsupportedOperationException("maps are not used by the client protocol");
        }

        @Override
        public void endMap(TreeMap<?, ?> v, String tag) {
            throw new UnsupportedOperationException();
        }
    }

    // ------------------------------------------------------------------------------------
    // Output: .bin files, index.json, INDEX.md
    // ------------------------------------------------------------------------------------

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            sb.append(String.format("%02x", x & 0xff));
        }
        return sb.toString();
    }

    static void json(StringBuilder sb, Object v, int indent) {
        String pad = "  ".repeat(indent);
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Hex) {
            sb.append('"').append(hex(((Hex) v).b)).append('"');
        } else if (v instanceof String) {
            jsonString(sb, (String) v);
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else if (v instanceof Map) {
            Map<?, ?> m = (Map<?, ?>) v;
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append("{\n");
            int i = 0;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(pad).append("  ");
                jsonString(sb, (String) e.getKey());
                sb.append(": ");
                json(sb, e.getValue(), indent + 1);
                sb.append(++i < m.size() ? ",\n" : "\n");
            }
            sb.append(pad).append('}');
        } else if (v instanceof List) {
            List<?> l = (List<?>) v;
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            boolean simple = l.stream().allMatch(x -> x == null || x instanceof String || x instanceof Number);
            if (simple) {
                sb.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        sb.append(", ");
                    }
                    json(sb, l.get(i), indent + 1);
                }
                sb.append(']');
                return;
            }
            sb.append("[\n");
            for (int i = 0; i < l.size(); i++) {
                sb.append(pad).append("  ");
                json(sb, l.get(i), indent + 1);
                sb.append(i + 1 < l.size() ? ",\n" : "\n");
            }
            sb.append(pad).append(']');
        } else {
            throw new IllegalArgumentException("cannot JSON " + v.getClass());
        }
    }

    static void jsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    static Map<String, Object> indexEntry(Fixture f) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", f.file);
        m.put("direction", f.direction);
        m.put("kind", f.kind);
        m.put("opcode", f.opcode);
        m.put("opcode_name", f.opName);
        m.put("xid", f.xid);
        m.put("header", f.header);
        m.put("fields", f.fields);
        m.put("size", f.bytes.length);
        m.put("source", f.source);
        m.put("notes", f.notes);
        m.put("live_check", f.live);
        return m;
    }

    /** compact human rendering for INDEX.md */
    static String render(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Hex) {
            byte[] b = ((Hex) v).b;
            if (b.length == 0) {
                return "hex:\"\" (empty)";
            }
            boolean printable = true;
            for (byte x : b) {
                printable &= x >= 0x20 && x < 0x7f;
            }
            return "hex:" + hex(b) + (printable ? " (\"" + new String(b, StandardCharsets.US_ASCII) + "\")" : "");
        }
        if (v instanceof String) {
            StringBuilder sb = new StringBuilder();
            jsonString(sb, (String) v);
            return sb.toString();
        }
        if (v instanceof Long) {
            long l = (Long) v;
            return (l > 0xffff || l < -0xffff) ? String.format("0x%016x", l) + (l < 0 ? " (" + l + ")" : "")
                    : Long.toString(l);
        }
        if (v instanceof Integer) {
            int i = (Integer) v;
            return (i > 0xffff) ? String.format("0x%08x", i) : Integer.toString(i);
        }
        if (v instanceof Map) {
            StringBuilder sb = new StringBuilder("{");
            int i = 0;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                sb.append(i++ > 0 ? ", " : "").append(e.getKey()).append('=').append(render(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (v instanceof List) {
            StringBuilder sb = new StringBuilder("[");
            int i = 0;
            for (Object o : (List<?>) v) {
                sb.append(i++ > 0 ? ", " : "").append(render(o));
            }
            return sb.append(']').toString();
        }
        return String.valueOf(v);
    }

    static String mdCell(String s) {
        return s == null ? "" : s.replace("|", "\\|").replace("\n", " ");
    }

    static void writeAll(File out, boolean liveRan) throws IOException {
        Files.createDirectories(out.toPath());
        // remove stale .bin files from previous runs
        File[] old = out.listFiles((d, n) -> n.endsWith(".bin"));
        if (old != null) {
            for (File o : old) {
                if (!FX.containsKey(o.getName().replace(".bin", ""))) {
                    Files.delete(o.toPath());
                }
            }
        }
        for (Fixture f : FX.values()) {
            Files.write(new File(out, f.file).toPath(), f.bytes);
        }

        List<Object> idx = new ArrayList<>();
        for (Fixture f : FX.values()) {
            idx.add(indexEntry(f));
        }
        StringBuilder js = new StringBuilder();
        json(js, idx, 0);
        js.append('\n');
        writeUtf8(new File(out, "index.json"), js.toString());

        StringBuilder md = new StringBuilder();
        md.append("# Golden ZooKeeper wire fixtures (Apache ZooKeeper 3.8 Java implementation)\n\n")
          .append("Generated by `zk-core/tests/golden/GenGolden.java`; regenerate with ")
          .append("`zk-core/tests/golden/regen.sh`. Do not edit by hand.\n\n")
          .append("Every `.bin` is one packet **without** the 4-byte big-endian frame length ")
          .append("(the generator checked that length and stripped it).\n\n")
          .append("* `req_*` - client -> server. Bytes from the real `ClientCnxn$Packet.createBB()`: ")
          .append("`RequestHeader{xid:int, type:int}` + request record; connect packets have no header and are ")
          .append("`ConnectRequest` + one `readOnly` bool byte (absent in `req_connect_v33_noreadonly`).\n")
          .append("* `resp_*` - server -> client. Bytes from the real `ServerCnxn.serialize()`: ")
          .append("`ReplyHeader{xid:int, zxid:long, err:int}` + response record (omitted when `kind` is empty); ")
          .append("`ConnectResponse` has no header and is followed by a `readOnly` byte except in ")
          .append("`resp_connect_v33_noreadonly`.\n")
          .append("* `opcode` of a response = opcode of the request it answers (responses do not carry it).\n")
          .append("* Jute encoding: int = 4 bytes BE, long = 8 bytes BE, bool = 1 byte (0/1), ")
          .append("buffer = int length + bytes (null = length -1, no bytes), ustring = int length + bytes ")
          .append("(null = -1; bytes are UTF-8 except for non-BMP chars, see `req_getdata_emoji`), ")
          .append("vector = int count + elements (null = -1), record = fields in order, no framing.\n")
          .append("* `Stat` = czxid, mzxid, ctime, mtime (long), version, cversion, aversion (int), ")
          .append("ephemeralOwner (long), dataLength, numChildren (int), pzxid (long) = 68 bytes.\n")
          .append("* In the table, `hex:...` is a buffer, quoted values are strings, `0x...` are ints/longs shown ")
          .append("in hex (negative longs also in decimal). The exact same values are in `index.json` ")
          .append("(buffers as lowercase hex strings, null buffers/strings/vectors as JSON null, ints/longs as ")
          .append("JSON integers - longs can exceed 2^53, parse them as i64).\n")
          .append("* `multi` bodies are shown as `ops`/`results` lists of `{header=MultiHeader, kind, fields}` ")
          .append("plus the terminating `end` MultiHeader.\n\n");
        if (liveRan) {
            int req = 0;
            int resp = 0;
            for (Fixture f : FX.values()) {
                if (f.live != null) {
                    if (f.direction.equals("req")) {
                        req++;
                    } else {
                        resp++;
                    }
                }
            }
            md.append("Live cross-check: the generator also drove a real ZooKeeper 3.8 client (`ZooKeeperAdmin` / ")
              .append("`ZooKeeper`) against an in-process fake server. ").append(req)
              .append(" request fixtures were byte-identical to the frames that client put on the socket ")
              .append("(for ordinary requests the 4 xid bytes are masked, the client numbers its own xids), and ")
              .append(resp).append(" response fixtures were fed to the client and decoded to the expected values ")
              .append("(column `live`).\n\n");
        }
        md.append("| file | dir | kind | opcode | xid | size | live | header | fields | notes |\n")
          .append("|---|---|---|---|---|---|---|---|---|---|\n");
        for (Fixture f : FX.values()) {
            md.append("| `").append(f.file).append("` | ").append(f.direction).append(" | ")
              .append(f.kind == null ? "" : f.kind).append(" | ")
              .append(f.opcode == null ? "" : f.opcode + " " + f.opName).append(" | ")
              .append(f.xid == null ? "" : f.xid).append(" | ")
              .append(f.bytes.length).append(" | ")
              .append(f.live == null ? "" : "yes").append(" | ")
              .append(mdCell(f.header == null ? "" : render(f.header))).append(" | ")
              .append(mdCell(f.fields == null ? "" : render(f.fields))).append(" | ")
              .append(mdCell(f.notes)).append(" |\n");
        }
        writeUtf8(new File(out, "INDEX.md"), md.toString());
    }

    static void writeUtf8(File f, String s) throws IOException {
        try (Writer w = new OutputStreamWriter(Files.newOutputStream(f.toPath()), StandardCharsets.UTF_8)) {
            w.write(s);
        }
    }

    // ------------------------------------------------------------------------------------
    // Live cross-check against the real client
    // ------------------------------------------------------------------------------------

    static final class Cap {
        final int conn;
        final boolean connect;
        final byte[] b;
        boolean used;

        Cap(int conn, boolean connect, byte[] b) {
            this.conn = conn;
            this.connect = connect;
            this.b = b;
        }

        int xid() {
            return ByteBuffer.wrap(b).getInt(0);
        }

        int type() {
            return ByteBuffer.wrap(b).getInt(4);
        }

        /** packets the client sends on its own (not as the answer to an API call) */
        boolean special() {
            return !connect && (type() == OpCode.ping || type() == OpCode.auth || type() == OpCode.setWatches
                    || type() == OpCode.setWatches2);
        }
    }

    interface CapFilter {
        boolean ok(Cap c);
    }

    static final class FakeServer implements Runnable {
        final ServerSocket ss;
        final List<Cap> caps = new ArrayList<>();
        final BlockingQueue<byte[]> replies = new LinkedBlockingQueue<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile Socket cur;
        volatile OutputStream curOut;
        volatile int conns;

        FakeServer() throws IOException {
            ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        }

        int port() {
            return ss.getLocalPort();
        }

        @Override
        public void run() {
            while (!ss.isClosed()) {
                Socket s;
                try {
                    s = ss.accept();
                } catch (IOException e) {
                    return;
                }
                cur = s;
                try {
                    handle(s, ++conns);
                } catch (IOException e) {
                    // connection dropped (by us or by the client)
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    try {
                        s.close();
                    } catch (IOException e) {
                        // ignore
                    }
                }
            }
        }

        void handle(Socket s, int conn) throws IOException, InterruptedException {
            DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
            OutputStream out = s.getOutputStream();
            curOut = out;
            boolean first = true;
            while (true) {
                int len = in.readInt();
                byte[] b = new byte[len];
                in.readFully(b);
                Cap c = new Cap(conn, first, b);
                synchronized (caps) {
                    caps.add(c);
                    caps.notifyAll();
                }
                byte[] reply;
                if (first) {
                    reply = fx("resp_connect").bytes;
                    first = false;
                } else if (c.xid() == -2) {
                    reply = fx("resp_ping").bytes;
                } else if (c.xid() == -4) {
                    reply = fx("resp_auth_ok").bytes;
                } else if (c.type() == OpCode.setWatches || c.type() == OpCode.setWatches2) {
                    // FinalRequestProcessor echoes request.cxid, whatever the client used
                    reply = withXid(fx("resp_setwatches").bytes, c.xid());
                } else if (c.type() == OpCode.closeSession) {
                    reply = withXid(fx("resp_closesession").bytes, c.xid());
                } else {
                    byte[] r = replies.poll(10, TimeUnit.SECONDS);
                    if (r == null) {
                        throw new IllegalStateException("no reply queued for xid " + c.xid() + " type " + c.type());
                    }
                    reply = withXid(r, c.xid());
                }
                send(reply);
            }
        }

        void send(byte[] body) throws IOException {
            OutputStream out = curOut;
            synchronized (this) {
                byte[] framed = ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).array();
                out.write(framed);
                out.flush();
            }
        }

        void drop() throws IOException {
            cur.close();
        }

        Cap await(String what, CapFilter filter) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            synchronized (caps) {
                while (true) {
                    for (Cap c : caps) {
                        if (!c.used && filter.ok(c)) {
                            c.used = true;
                            return c;
                        }
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new IllegalStateException("timed out waiting for " + what);
                    }
                    caps.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                }
            }
        }

        Cap nextNormal(String what) throws InterruptedException {
            return await(what, c -> !c.connect && !c.special());
        }
    }

    static byte[] withXid(byte[] b, int xid) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).putInt(0, xid);
        return c;
    }

    static final List<String> liveErrors = new ArrayList<>();

    static void matchReq(String fixture, Cap c) {
        Fixture f = fx(fixture);
        boolean mask = f.xid != null && f.xid > 0;
        byte[] exp = mask ? withXid(f.bytes, c.xid()) : f.bytes;
        if (Arrays.equals(exp, c.b)) {
            String note = "request bytes identical to a frame sent by the real client"
                    + (mask ? " (client xid " + c.xid() + " masked)" : "");
            f.live = f.live == null ? note : f.live;
        } else {
            liveErrors.add(fixture + ": client sent " + hex(c.b) + "\n      fixture is   " + hex(exp));
        }
    }

    /** setWatches: the fixture says -8 (SET_WATCHES_XID); the 3.8 client overwrites it on the wire. */
    static void matchReqAnyXid(String fixture, Cap c) {
        Fixture f = fx(fixture);
        byte[] exp = withXid(f.bytes, c.xid());
        if (Arrays.equals(exp, c.b)) {
            f.live = "identical to the frame sent by the real client EXCEPT the xid: primeConnection builds it with "
                    + "xid -8 but ClientCnxnSocketNIO.doIO re-stamps every non-ping/non-auth header with the next "
                    + "ordinary xid, so the 3.8 Java client actually sent xid " + c.xid();
        } else {
            liveErrors.add(fixture + ": client sent " + hex(c.b) + "\n      fixture is   " + hex(exp));
        }
    }

    static void decoded(String fixture, boolean ok, String what) {
        if (ok) {
            fx(fixture).live = "served to the real client, decoded as expected: " + what;
        } else {
            liveErrors.add(fixture + ": real client decoded unexpected values (" + what + ")");
        }
    }

    interface Call {
        Object run() throws Exception;
    }

    /** queue replies, run a client call, match the captured request against a fixture */
    static Object call(FakeServer srv, String reqFixture, Call call, String... replyFixtures) throws Exception {
        for (String r : replyFixtures) {
            srv.replies.add(fx(r).bytes);
        }
        Object result = call.run();
        Cap c = srv.nextNormal(reqFixture == null ? "request" : reqFixture);
        if (reqFixture != null) {
            matchReq(reqFixture, c);
        }
        return result;
    }

    static final class EventSink implements Watcher {
        final BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        final CountDownLatch connected = new CountDownLatch(1);

        @Override
        public void process(WatchedEvent event) {
            if (event.getType() == Event.EventType.None && event.getState() == Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
            events.add(event);
        }
    }

    static void runLive() throws Exception {
        System.setProperty("zookeeper.sasl.client", "false");
        System.setProperty("zookeeper.request.timeout", "10000");
        FakeServer srv = new FakeServer();
        Thread t = new Thread(srv, "golden-fake-server");
        t.setDaemon(true);
        t.start();
        String connect = "127.0.0.1:" + srv.port();
        try {
            liveClientA(srv, connect);
            liveClientB(srv, connect);
        } finally {
            srv.ss.close();
        }
        if (srv.failure.get() != null) {
            liveErrors.add("fake server failed: " + srv.failure.get());
        }
    }

    /** Client A: canBeReadOnly=false; every ordinary API call. */
    static void liveClientA(FakeServer srv, String connect) throws Exception {
        EventSink w = new EventSink();
        ZooKeeperAdmin zk = new ZooKeeperAdmin(connect, CLIENT_A_TIMEOUT, w, false);
        matchReq("req_connect", srv.await("connect", c -> c.connect));
        if (!w.connected.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("client A did not connect");
        }
        decoded("resp_connect", zk.getSessionId() == SESSION_ID
                && Arrays.equals(zk.getSessionPasswd(), SESSION_PASSWD)
                && zk.getSessionTimeout() == NEGOTIATED_TIMEOUT, "sessionId, passwd, negotiated timeout");

        zk.addAuthInfo("digest", "user:pass".getBytes(StandardCharsets.UTF_8));
        matchReq("req_auth_digest", srv.await("auth", c -> !c.connect && c.xid() == -4));
        Thread.sleep(100); // let the client consume the auth reply before the next request
        decoded("resp_auth_ok", zk.getState().isConnected(), "auth reply accepted, session still connected");

        // creates without Stat
        String[][] c1 = {{"req_create_persistent", "/golden/persistent"}, {"req_create_ephemeral", "/golden/ephemeral"},
            {"req_create_persistent_sequential", "/golden/pseq-"}, {"req_create_ephemeral_sequential", "/golden/eseq-"},
            {"req_create_container", "/golden/container"}};
        Object[][] c1args = {{HELLO, openAcl(), CreateMode.PERSISTENT}, {BIN, creatorAllAcl(), CreateMode.EPHEMERAL},
            {EMPTY, readAcl(), CreateMode.PERSISTENT_SEQUENTIAL}, {HELLO, mixedAcl(), CreateMode.EPHEMERAL_SEQUENTIAL},
            {null, openAcl(), CreateMode.CONTAINER}};
        for (int i = 0; i < c1.length; i++) {
            final int k = i;
            @SuppressWarnings("unchecked")
            String p = (String) call(srv, c1[i][0], () -> zk.create(c1[k][1], (byte[]) c1args[k][0],
                    (List<ACL>) c1args[k][1], (CreateMode) c1args[k][2]), i == 4 ? "resp_create2" : "resp_create");
            String expect = i == 4 ? "/golden/e2seq-0000000042" : "/golden/pseq-0000000007";
            decoded(i == 4 ? "resp_create2" : "resp_create", p.equals(expect), "created path " + p);
        }
        // creates with Stat (+ttl)
        Object[][] c2 = {
            {"req_create2_persistent", "/golden/p2", null, openAcl(), CreateMode.PERSISTENT, -1L},
            {"req_create2_ephemeral_unicode", UNI, HELLO, openAcl(), CreateMode.EPHEMERAL, -1L},
            {"req_create2_persistent_sequential", "/golden/p2seq-", BIN, creatorAllAcl(),
                CreateMode.PERSISTENT_SEQUENTIAL, -1L},
            {"req_create2_ephemeral_sequential", "/golden/e2seq-", EMPTY, openAcl(),
                CreateMode.EPHEMERAL_SEQUENTIAL, -1L},
            {"req_create2_container", "/golden/container2", HELLO, openAcl(), CreateMode.CONTAINER, -1L},
            {"req_create_ttl_persistent", "/golden/ttl", HELLO, openAcl(), CreateMode.PERSISTENT_WITH_TTL,
                0x0102030405L},
            {"req_create_ttl_persistent_sequential", "/golden/ttlseq-", null, openAcl(),
                CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 1L},
            {"req_create_ttl_persistent_b", "/golden/ttl-b", BIN, mixedAcl(), CreateMode.PERSISTENT_WITH_TTL, 3600000L},
            {"req_create_ttl_persistent_sequential_b", UNI + "/ttlseq-", EMPTY, creatorAllAcl(),
                CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, EphemeralType.TTL.maxValue()},
        };
        for (Object[] a : c2) {
            Stat st = new Stat();
            @SuppressWarnings("unchecked")
            Call cl = ((CreateMode) a[4]).isTTL()
                    ? () -> zk.create((String) a[1], (byte[]) a[2], (List<ACL>) a[3], (CreateMode) a[4], st, (Long) a[5])
                    : () -> zk.create((String) a[1], (byte[]) a[2], (List<ACL>) a[3], (CreateMode) a[4], st);
            String p = (String) call(srv, (String) a[0], cl, "resp_create2");
            decoded("resp_create2", p.equals("/golden/e2seq-0000000042") && st.equals(statA()),
                    "path + Stat (statA)");
        }

        call(srv, "req_delete", () -> {
            zk.delete("/golden/persistent", -1);
            return null;
        }, "resp_delete");
        call(srv, "req_delete_version", () -> {
            zk.delete(UNI, 0x0A0B0C0D);
            return null;
        }, "resp_delete");
        decoded("resp_delete", true, "delete() returned normally");

        Stat s1 = (Stat) call(srv, "req_exists_watch", () -> zk.exists(P_NODE, true), "resp_exists");
        decoded("resp_exists", statA().equals(s1), "Stat == statA");
        Stat s2 = (Stat) call(srv, "req_exists_nowatch", () -> zk.exists(P_MISSING, false), "resp_error_nonode");
        decoded("resp_error_nonode", s2 == null, "exists() -> null on NONODE");

        Stat gs = new Stat();
        byte[] d1 = (byte[]) call(srv, "req_getdata_watch", () -> zk.getData(P_NODE, true, gs), "resp_getdata");
        decoded("resp_getdata", Arrays.equals(d1, HELLO) && gs.equals(statA()), "data \"hello\" + statA");
        Stat gs2 = new Stat();
        byte[] d2 = (byte[]) call(srv, "req_getdata_unicode", () -> zk.getData(UNI, false, gs2), "resp_getdata_null");
        decoded("resp_getdata_null", d2 == null && gs2.equals(statB()), "data null + statB");
        Stat gs3 = new Stat();
        // (req_getdata_emoji cannot be sent through the API: PathUtils.validatePath rejects surrogates)
        byte[] d3 = (byte[]) call(srv, null, () -> zk.getData(P_NODE, false, gs3), "resp_getdata_empty");
        decoded("resp_getdata_empty", d3 != null && d3.length == 0 && gs3.equals(statB()), "data empty + statB");

        Stat sd = (Stat) call(srv, "req_setdata", () -> zk.setData(P_NODE, BIN, 0x01020304), "resp_setdata");
        decoded("resp_setdata", statA().equals(sd), "Stat == statA");
        call(srv, "req_setdata_null", () -> zk.setData(P_NODE, null, -1), "resp_setdata");
        call(srv, "req_setdata_empty", () -> zk.setData(P_NODE, EMPTY, 0), "resp_setdata");

        Stat as = new Stat();
        @SuppressWarnings("unchecked")
        List<ACL> acl = (List<ACL>) call(srv, "req_getacl", () -> zk.getACL(P_NODE, as), "resp_getacl");
        decoded("resp_getacl", acl.equals(mixedAcl()) && as.equals(statB()), "3 ACLs + statB");
        Stat sa = (Stat) call(srv, "req_setacl", () -> zk.setACL(P_NODE, mixedAcl(), 0x11223344), "resp_setacl");
        decoded("resp_setacl", statB().equals(sa), "Stat == statB");

        Object ch = call(srv, "req_getchildren", () -> zk.getChildren("/golden", false), "resp_getchildren");
        decoded("resp_getchildren", list("a", "b-0000000001", "\u00fcn\u00efc\u00f8d\u00e9").equals(ch),
                "children incl. unicode");
        Stat cs = new Stat();
        Object ch2 = call(srv, "req_getchildren2", () -> zk.getChildren("/golden", true, cs), "resp_getchildren2");
        decoded("resp_getchildren2", list("x", "y").equals(ch2) && cs.equals(statA()), "children + statA");
        Object ch3 = call(srv, null, () -> zk.getChildren("/golden", false), "resp_getchildren_empty");
        decoded("resp_getchildren_empty", ((List<?>) ch3).isEmpty(), "empty list");

        CountDownLatch synced = new CountDownLatch(1);
        AtomicInteger syncRc = new AtomicInteger(Integer.MIN_VALUE);
        AtomicReference<String> syncPath = new AtomicReference<>();
        call(srv, "req_sync", () -> {
            zk.sync("/golden", (rc, path, ctx) -> {
                syncRc.set(rc);
                syncPath.set(path);
                synced.countDown();
            }, null);
            if (!synced.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("sync callback not called");
            }
            return null;
        }, "resp_sync");
        decoded("resp_sync", syncRc.get() == 0 && "/golden".equals(syncPath.get()), "rc 0");

        Object mr = call(srv, "req_multi", () -> zk.multi(multiOps()), "resp_multi");
        decoded("resp_multi", multiResults().equals(mr), "CreateResult, DeleteResult, SetDataResult, CheckResult");
        Object mr2 = call(srv, "req_multi_create_modes", () -> zk.multi(multiCreateModeOps()), "resp_multi_create_modes");
        decoded("resp_multi_create_modes", multiCreateModeResults().equals(mr2), "create/create2 results");
        Object failed = call(srv, null, () -> {
            try {
                zk.multi(multiOps());
                return null;
            } catch (KeeperException e) {
                return e;
            }
        }, "resp_multi_failed");
        decoded("resp_multi_failed", failed instanceof KeeperException.BadVersionException
                && multiFailedResults().equals(((KeeperException) failed).getResults()),
                "client throws BadVersionException carrying [0, -103, -2, -2] ErrorResults");
        Object rr = call(srv, "req_multiread", () -> zk.multi(multiReadOps()), "resp_multiread");
        decoded("resp_multiread", multiReadResults().equals(rr), "GetDataResult, GetChildrenResult, ErrorResult(-101)");

        Stat rs = new Stat();
        byte[] cfg = (byte[]) call(srv, "req_reconfig_incremental",
                () -> zk.reconfigure(JOINING, LEAVING, null, -1L, rs), "resp_reconfig");
        decoded("resp_reconfig", Arrays.equals(cfg, RECONFIG_DATA) && rs.equals(statB()), "config bytes + statB");
        call(srv, "req_reconfig_nonincremental",
                () -> zk.reconfigure(null, null, NEW_MEMBERS, 0x0000000100000000L, new Stat()), "resp_reconfig");

        Object eph = call(srv, "req_getephemerals", () -> zk.getEphemerals("/golden"), "resp_getephemerals");
        decoded("resp_getephemerals", list("/golden/e1", "/golden/ephemeral").equals(eph), "2 paths");
        Object n = call(srv, "req_getallchildrennumber", () -> zk.getAllChildrenNumber("/golden"),
                "resp_getallchildrennumber");
        decoded("resp_getallchildrennumber", Integer.valueOf(0x01020304).equals(n), "0x01020304");
        Object who = call(srv, "req_whoami", zk::whoAmI, "resp_whoami");
        decoded("resp_whoami", whoAmIInfo().equals(who), "2 ClientInfo");

        // checkWatches(17): remove one specific data watcher (registered first via getData)
        EventSink specific = new EventSink();
        call(srv, null, () -> zk.getData(P_CHECKW, specific, null), "resp_getdata");
        byte[] okHeader = fx("resp_delete").bytes; // header-only, err 0
        srv.replies.add(okHeader);
        zk.removeWatches(P_CHECKW, specific, Watcher.WatcherType.Data, false);
        matchReq("req_checkwatches", srv.nextNormal("checkWatches"));
        // removeWatches(18): remove all watches on a path
        call(srv, null, () -> zk.exists(P_REMOVEW, true), "resp_exists");
        srv.replies.add(okHeader);
        zk.removeAllWatches(P_REMOVEW, Watcher.WatcherType.Any, false);
        matchReq("req_removewatches", srv.nextNormal("removeWatches"));

        // idle -> the client pings (negotiated timeout 4000ms -> ping after ~1s of silence)
        matchReq("req_ping", srv.await("ping", c -> !c.connect && c.xid() == -2));
        decoded("resp_ping", true, "session stayed connected after ping replies");

        zk.close();
        matchReq("req_closesession", srv.nextNormal("closeSession"));
        decoded("resp_closesession", true, "close() returned normally");
    }

    /** Client B: canBeReadOnly=true; watch re-registration (SetWatches / SetWatches2) after reconnects. */
    static void liveClientB(FakeServer srv, String connect) throws Exception {
        EventSink w = new EventSink();
        ZooKeeper zk = new ZooKeeper(connect, CLIENT_B_TIMEOUT, w, true);
        matchReq("req_connect_readonly", srv.await("connect B", c -> c.connect));
        if (!w.connected.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("client B did not connect");
        }
        call(srv, null, () -> zk.getData(P_DATA, true, null), "resp_getdata"); // -> data watch
        call(srv, null, () -> zk.exists(P_EXIST, true), "resp_error_nonode"); // NONODE -> exist watch
        call(srv, null, () -> zk.getChildren(P_CHILD, true), "resp_getchildren"); // child watch, zxid ZXID_SW1

        int before = srv.conns;
        srv.drop();
        matchReq("req_connect_reconnect_readonly", srv.await("reconnect B", c -> c.connect && c.conn > before));
        Cap sw = srv.await("setWatches", c -> !c.connect && c.type() == OpCode.setWatches);
        matchReqAnyXid("req_setwatches", sw);
        decoded("resp_setwatches", true, "client accepted the setWatches reply");

        call(srv, "req_addwatch_persistent", () -> {
            zk.addWatch(P_PERS, AddWatchMode.PERSISTENT);
            return null;
        }, "resp_addwatch");
        call(srv, "req_addwatch_persistent_recursive", () -> {
            zk.addWatch(P_REC, AddWatchMode.PERSISTENT_RECURSIVE);
            return null;
        }, "resp_addwatch"); // zxid ZXID_SW2
        decoded("resp_addwatch", true, "addWatch() returned normally");

        int before2 = srv.conns;
        srv.drop();
        srv.await("second reconnect B", c -> c.connect && c.conn > before2);
        matchReqAnyXid("req_setwatches2", srv.await("setWatches2", c -> !c.connect && c.type() == OpCode.setWatches2));

        // watch notification pushed by the server -> delivered to the default watcher
        Thread.sleep(200);
        w.events.clear();
        srv.send(fx("resp_notification").bytes);
        WatchedEvent ev = null;
        long deadline = System.currentTimeMillis() + 10000;
        while (System.currentTimeMillis() < deadline) {
            WatchedEvent e = w.events.poll(1, TimeUnit.SECONDS);
            if (e != null && e.getType() != Watcher.Event.EventType.None) {
                ev = e;
                break;
            }
        }
        decoded("resp_notification", ev != null && ev.getType() == Watcher.Event.EventType.NodeDataChanged
                && ev.getState() == Watcher.Event.KeeperState.SyncConnected && P_DATA.equals(ev.getPath()),
                "WatchedEvent NodeDataChanged " + P_DATA);

        zk.close();
        matchReq("req_closesession", srv.nextNormal("closeSession B"));
    }

    // ------------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: GenGolden <output-dir> [--no-live]");
            System.exit(2);
        }
        File out = new File(args[0]);
        boolean live = !Arrays.asList(args).contains("--no-live");
        buildAll();
        if (live) {
            try {
                runLive();
            } catch (Exception e) {
                liveErrors.add("live run aborted: " + e);
                e.printStackTrace();
            }
        }
        writeAll(out, live);
        System.out.println("wrote " + FX.size() + " fixtures + index.json + INDEX.md to " + out);
        if (live) {
            long covered = FX.values().stream().filter(f -> f.live != null).count();
            System.out.println("live cross-check: " + covered + " fixtures confirmed against the real client");
            if (!liveErrors.isEmpty()) {
                System.err.println("LIVE CROSS-CHECK FAILURES:");
                for (String e : liveErrors) {
                    System.err.println("  " + e);
                }
                System.exit(1);
            }
        }
        System.exit(0);
    }
}
