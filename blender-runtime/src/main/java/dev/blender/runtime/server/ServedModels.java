package dev.blender.runtime.server;

import dev.blender.runtime.pipeline.BlenderConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The model ids a server answers to: the blend itself, and each member by its display name (a model's file
 * name, an adapter or remote member's name, as its candidates are labelled: {@link BlenderConfig#memberLabel}). A generator's
 * id answers with that generator alone; the judge, reranker and fuser are listed so that clients see
 * what the blend is made of, but they rank and fuse, they do not answer.
 */
record ServedModels(String blendId, List<Member> members) {

    /** One model file of the blend and the role it plays. */
    record Member(String id, Path path, String role) {
        boolean answers() {
            return role.equals("generator");
        }
    }

    ServedModels {
        members = List.copyOf(members);
    }

    static ServedModels of(String blendId, BlenderConfig config) {
        List<Member> members = new ArrayList<>();
        for (Path p : config.generators()) {
            add(members, blendId, p, config.memberLabel(p), "generator");
        }
        if (config.judge() != null) {
            add(members, blendId, config.judge(), config.memberLabel(config.judge()), "judge");
        }
        if (config.reranker() != null) {
            add(members, blendId, config.reranker(), config.memberLabel(config.reranker()), "reranker");
        }
        if (config.fuser() != null) {
            add(members, blendId, config.fuser(), config.memberLabel(config.fuser()), "fuser");
        }
        return new ServedModels(blendId, members);
    }

    /** A name taken already (a second file of the same name in another folder) gets its position appended. */
    private static void add(List<Member> members, String blendId, Path p, String name, String role) {
        boolean taken = name.equals(blendId) || members.stream().anyMatch(m -> m.id().equals(name));
        members.add(new Member(taken ? name + "@" + (members.size() + 1) : name, p, role));
    }

    /** The member with this id; null for the blend's id. */
    Member resolve(String model) {
        if (model.equals(blendId)) {
            return null;
        }
        for (Member m : members) {
            if (m.id().equals(model)) {
                if (!m.answers()) {
                    throw ApiException.badRequest("model", "'" + model + "' is the blend's " + m.role()
                            + ": it does not answer requests; use '" + blendId + "' or a generator");
                }
                return m;
            }
        }
        throw ApiException.modelNotFound(model, ids().toString());
    }

    /** The ids that answer alone: the generators'. */
    List<String> generatorIds() {
        return members.stream().filter(Member::answers).map(Member::id).toList();
    }

    /** Every id, the blend's first. */
    List<String> ids() {
        List<String> ids = new ArrayList<>();
        ids.add(blendId);
        members.forEach(m -> ids.add(m.id()));
        return ids;
    }
}
