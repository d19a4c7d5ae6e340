package dev.blender.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.chat.ChatOptions;
import dev.blender.runtime.template.TemplateRenderer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code blender template}: the prompt a model really gets for a conversation. */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = {"Prints the prompt a conversation becomes: the model's own chat template (tokenizer.chat_template)"
                + " run as Hugging Face transformers runs it, with the model's BOS and EOS, exactly as blends render it;"
                + " or a template file with the tokens you give. The prompt is printed exactly, with no newline added.",
            "A model's own: blender template MODEL.gguf --messages chat.json",
            "A file: blender template --template t.jinja --bos-token '<s>' --messages chat.json --now 2026-07-26",
            "Many at once: blender template --batch in.jsonl, one {\"template\": PATH, \"messages\": [...],"
                + " \"add_generation_prompt\", \"bos_token\", \"eos_token\", \"now\", \"kwargs\"} per line in, one"
                + " {\"text\": ...} or {\"error\": ...} per line out, in order"})
final class TemplateCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "MODEL.gguf", description = "a model whose own template and tokens to use")
    Path model;

    @Option(names = "--template", paramLabel = "FILE.jinja", description = "a template file instead of a model's")
    Path template;

    @Option(names = "--bos-token", paramLabel = "TEXT", defaultValue = "", description = "bos_token for --template")
    String bosToken;

    @Option(names = "--eos-token", paramLabel = "TEXT", defaultValue = "", description = "eos_token for --template")
    String eosToken;

    @Option(names = "--messages", paramLabel = "FILE.json",
            description = "the conversation: a JSON array of {role, content, ...} (or an object with \"messages\")")
    Path messages;

    @Option(names = "--no-generation-prompt", description = "do not open the assistant's turn")
    boolean noGenerationPrompt;

    @Option(names = "--now", paramLabel = "ISO-DATE", description = "the date templates print (default: now)")
    String now;

    @Option(names = "--kwargs", paramLabel = "JSON", description = "template variables, e.g. '{\"enable_thinking\": false}'")
    String kwargs;

    @Option(names = "--batch", paramLabel = "IN.jsonl", description = "render many conversations in one run")
    Path batch;

    @Override
    public Integer call() throws IOException {
        if (batch != null) {
            if (model != null || template != null || messages != null) {
                throw new IllegalArgumentException("--batch takes each line's template and messages; drop MODEL.gguf,"
                        + " --template and --messages");
            }
            try (BufferedReader in = Files.newBufferedReader(batch, StandardCharsets.UTF_8)) {
                Writer out = new OutputStreamWriter(System.out, StandardCharsets.UTF_8);
                TemplateRenderer.Summary s = new TemplateRenderer().renderBatch(in, out, Path.of(""));
                return s.failed() == 0 ? 0 : 1;
            }
        }
        if ((model == null) == (template == null)) {
            throw new IllegalArgumentException("give either MODEL.gguf or --template FILE.jinja (or --batch IN.jsonl)");
        }
        if (messages == null) {
            throw new IllegalArgumentException("--messages FILE.json is required");
        }
        ObjectMapper json = new ObjectMapper();
        List<Map<String, Object>> conversation = TemplateRenderer.messages(json.readTree(messages.toFile()));
        ChatOptions options = TemplateRenderer.options(!noGenerationPrompt, TemplateRenderer.now(now, "--now"),
                TemplateRenderer.kwargs(kwargs == null ? null : json.readTree(kwargs), "--kwargs"));
        String text = model != null ? TemplateRenderer.renderModel(model, conversation, options)
                : TemplateRenderer.renderTemplate(Files.readString(template), bosToken, eosToken, conversation, options);
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        out.print(text);
        out.flush();
        return 0;
    }
}
