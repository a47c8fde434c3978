/*
 * min-readiness: NO_GO when the readiness score is below a minimum (setting `min_readiness`,
 * default 6.0). A policy in C with sdk/c/preflight.h; `build.sh` builds it with clang.
 */
#include "preflight.h"

PREFLIGHT_POLICY("{\"name\":\"min-readiness\",\"version\":\"1.0.0\",\"abi\":1,"
                 "\"description\":\"readiness at least a minimum (C)\","
                 "\"settings_schema\":{\"type\":\"object\",\"additionalProperties\":false,"
                 "\"properties\":{\"min_readiness\":{\"type\":\"number\",\"minimum\":0,"
                 "\"maximum\":10}}}}");

PREFLIGHT_EXPORT(preflight_evaluate)
uint64_t preflight_evaluate(const char *input, uint32_t len) {
    preflight_json root = {input, len};
    preflight_json facts = preflight_get(root, "facts");
    preflight_json readiness_text = preflight_get(preflight_get(facts, "scores"), "readiness");
    preflight_json minimum_text =
        preflight_get(preflight_get(root, "settings"), "min_readiness");

    double minimum = 6.0, readiness = 0;
    if (minimum_text.ptr && !preflight_number(minimum_text, &minimum)) {
        /* The settings schema makes this unreachable through the host; stay closed anyway. */
        preflight_out out = {0};
        preflight_raw(&out, "{\"decision\":\"NO_GO\",\"blocking_issues\":[{\"id\":"
                            "\"settings.invalid\",\"message\":\"min_readiness is not a number\"}]}");
        return preflight_finish(&out);
    }

    preflight_out out = {0};
    if (!preflight_number(readiness_text, &readiness)) {
        preflight_log(PREFLIGHT_WARN, "no readiness score in the facts");
        preflight_raw(&out, "{\"decision\":\"NO_GO\",\"blocking_issues\":[{\"id\":"
                            "\"readiness.missing\",\"message\":\"the fact set has no "
                            "scores.readiness\"}],\"details\":{}}");
        return preflight_finish(&out);
    }

    int low = readiness < minimum;
    preflight_log(PREFLIGHT_INFO, low ? "readiness below the minimum" : "readiness ok");
    preflight_raw(&out, low ? "{\"decision\":\"NO_GO\",\"blocking_issues\":[{\"id\":"
                              "\"readiness.too_low\",\"message\":"
                            : "{\"decision\":\"GO\",\"blocking_issues\":[],\"warnings\":[],");
    if (low) {
        preflight_string(&out, "readiness is below the minimum the policy's settings give");
        preflight_raw(&out, "}],\"warnings\":[],");
    }
    /* The numbers as the input wrote them: no float formatting needed. */
    preflight_raw(&out, "\"details\":{\"readiness\":");
    preflight_put(&out, readiness_text.ptr, readiness_text.len);
    preflight_raw(&out, ",\"min_readiness\":");
    if (minimum_text.ptr)
        preflight_put(&out, minimum_text.ptr, minimum_text.len);
    else
        preflight_raw(&out, "6.0");
    preflight_raw(&out, "}}");
    return preflight_finish(&out);
}
