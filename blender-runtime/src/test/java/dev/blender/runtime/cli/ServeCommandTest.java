package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** What {@code blender serve} says when it cannot serve: a message and exit code 2, never a stack trace. */
class ServeCommandTest {

    @Test
    void aMissingKeyVariableABadPortAndAPortInUseAreMessages() throws Exception {
        RunCommandTest.Run noKey = RunCommandTest.run("", "serve", "--api-key-env", "BLENDER_TEST_SURELY_UNSET_VARIABLE");
        assertEquals(2, noKey.code());
        assertTrue(noKey.err().contains("BLENDER_TEST_SURELY_UNSET_VARIABLE") && noKey.err().contains("not set"),
                noKey.err());

        RunCommandTest.assumeArith();
        RunCommandTest.Run badPort = RunCommandTest.run("", "serve", "--port", "70000");
        assertEquals(2, badPort.code());
        assertTrue(badPort.err().contains("port must be in [0, 65535]"), badPort.err());

        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            RunCommandTest.Run inUse = RunCommandTest.run("", "serve", "--port", Integer.toString(taken.getLocalPort()));
            assertEquals(2, inUse.code());
            assertTrue(inUse.err().contains("cannot listen on 127.0.0.1:" + taken.getLocalPort()), inUse.err());
            assertFalse(inUse.err().contains("\tat "), inUse.err());
        }
    }
}
