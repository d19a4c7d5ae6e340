package dev.blender.runtime.cli;

import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.server.BlenderServer;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender serve}: the blender behind an OpenAI-compatible HTTP API until Ctrl-C. The flags are
 * read here; everything else is {@link BlenderServer}.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serves the blend over HTTP with OpenAI's API (/v1/models, /v1/chat/completions,"
                + " /v1/completions, /health) until Ctrl-C.",
            "With no model options: the arith family from shared/models/arith, as for run."})
final class ServeCommand implements Callable<Integer> {
    @Mixin
    BlenderOptions blender;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "address to listen on (default: ${DEFAULT-VALUE}, this machine only; 0.0.0.0 for every interface)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "port (default: ${DEFAULT-VALUE}; 0 picks a free one)")
    int port;

    @Option(names = "--max-queue", defaultValue = "64",
            description = "requests that may wait for a worker; more are answered 429 (default: ${DEFAULT-VALUE})")
    int maxQueue;

    @Option(names = "--max-concurrent", defaultValue = "1", description = "blends that run at once (default: ${DEFAULT-VALUE})")
    int maxConcurrent;

    @Option(names = "--api-key-env", paramLabel = "VAR",
            description = "require Authorization: Bearer <the value of environment variable VAR>")
    String apiKeyEnv;

    @Option(names = "--model-id", defaultValue = "blender", description = "the blend's model id (default: ${DEFAULT-VALUE})")
    String modelId;

    @Override
    public Integer call() throws InterruptedException, UnknownHostException {
        String apiKey = null;
        if (apiKeyEnv != null) {
            apiKey = System.getenv(apiKeyEnv);
            if (apiKey == null || apiKey.isBlank()) {
                throw new IllegalArgumentException("--api-key-env " + apiKeyEnv + ": that environment variable is not set");
            }
        }
        Blender b = Blender.create(blender.config());
        BlenderServer server;
        try {
            server = BlenderServer.builder(b).host(host).port(port).maxQueue(maxQueue).maxConcurrent(maxConcurrent)
                    .apiKey(apiKey).modelId(modelId).build().start();
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        // Ctrl-C: requests in flight finish before the models are closed
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            b.close();
        }, "blender-serve-shutdown"));
        System.out.println("blender: serving " + server.baseUrl() + " (loading the models; GET /health says when ready)");
        System.out.flush();
        if (!InetAddress.getByName(host).isLoopbackAddress() && apiKey == null) {
            System.err.println("blender: listening on " + host + " without --api-key-env: anyone who reaches this port"
                    + " can use it");
        }
        if (!server.awaitReady(Duration.ofDays(365))) {
            String problem = server.loadProblem();
            server.close();
            b.close();
            throw new IllegalStateException("the models failed to load: " + problem);
        }
        System.out.println("blender: ready");
        System.out.flush();
        server.awaitClosed();
        return 0;
    }
}
