/* Compiled and run by tests/c_abi.rs against include/agt.h and libagt.a: the ABI as a C caller
 * sees it (status codes, JSON out, error JSON, freeing). Exit 0 on success, 1 with a message. */
#include <stdio.h>
#include <string.h>
#include "agt.h"

static int fail(const char *what, char *error) {
    fprintf(stderr, "FAIL %s: %s\n", what, error ? error : "(no error text)");
    agt_string_free(error);
    return 1;
}

int main(void) {
    const char *policies =
        "[{\"apiVersion\": \"governance.toolkit/v1\", \"name\": \"p\", \"default_action\": \"allow\","
        " \"rules\": [{\"name\": \"no-drop\", \"condition\": \"action.type in ['drop', 'delete']\", \"action\": \"deny\"}]}]";
    AgtPolicySet *set = NULL;
    char *out = NULL, *error = NULL;
    if (agt_policy_set_compile(policies, &set, &error) != AGT_STATUS_OK) return fail("compile", error);
    const char *request = "{\"action\": {\"type\": \"drop\", \"tool\": \"sql\"}, \"args\": {}, \"agent\": {\"id\": \"a\"},"
                          " \"context\": {}, \"stage\": \"pre_tool\"}";
    if (agt_policy_set_evaluate(set, request, &out, &error) != AGT_STATUS_OK) return fail("evaluate", error);
    if (strstr(out, "\"effect\":\"deny\"") == NULL || strstr(out, "\"rule\":\"no-drop\"") == NULL)
        return fail("decision", out);
    agt_string_free(out);
    out = NULL;

    /* a bad policy: a non-zero status, no output, an error naming the path */
    AgtPolicySet *bad = NULL;
    AgtStatus status = agt_policy_set_compile("[{\"apiVersion\": \"governance.toolkit/v1\", \"name\": \"p\", "
                                              "\"rules\": [{\"name\": \"r\", \"condition\": \"1 +\", \"action\": \"deny\"}]}]",
                                              &bad, &error);
    if (status != AGT_STATUS_POLICY || bad != NULL || error == NULL || strstr(error, "rules[0].condition") == NULL)
        return fail("bad policy accepted or error without path", error);
    agt_string_free(error);
    error = NULL;

    /* canonical JSON and an audit record */
    if (agt_canonical_json("{\"b\": 1.0, \"a\": [1e21, \"\\u00e9\"]}", &out, &error) != AGT_STATUS_OK)
        return fail("canonical", error);
    if (strcmp(out, "{\"a\":[1e+21,\"\xc3\xa9\"],\"b\":1}") != 0) return fail("canonical text", out);
    agt_string_free(out);
    AgtAuditLog *log = NULL;
    if (agt_audit_log_new(&log, &error) != AGT_STATUS_OK) return fail("log", error);
    if (agt_audit_log_append(log, "2026-12-01T10:00:00.000000Z", request, "{\"effect\": \"deny\"}", NULL, &out, &error) !=
        AGT_STATUS_OK)
        return fail("append", error);
    agt_string_free(out);
    char *head = NULL, *trail = NULL;
    if (agt_audit_log_head(log, &head, &error) != AGT_STATUS_OK) return fail("head", error);
    if (agt_audit_log_lines(log, &trail, &error) != AGT_STATUS_OK) return fail("lines", error);
    char pin[256];
    snprintf(pin, sizeof pin, "{\"expected_count\": 1, \"expected_head\": \"%.64s\"}", strstr(head, "\"hash\":\"") + 8);
    if (agt_audit_verify_lines(trail, pin, &out, &error) != AGT_STATUS_OK) return fail("verify", error);
    agt_string_free(out);
    trail[strlen(trail) - 3] ^= 1; /* flip a bit inside the last record */
    if (agt_audit_verify_lines(trail, pin, &out, &error) != AGT_STATUS_AUDIT_INTEGRITY || out != NULL)
        return fail("tampered trail verified", error);
    agt_string_free(error);
    agt_string_free(head);
    agt_string_free(trail);
    agt_audit_log_free(log);
    agt_policy_set_free(set);
    puts("ok");
    return 0;
}
