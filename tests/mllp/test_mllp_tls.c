/* source-mllp's TLS set-up without a network: which key file modes are refused (owner only,
 * or group read of a root-owned key), and that a missing file, a bad tls_min_version or a
 * missing CA file make bp_mllp_tls_new fail with a message naming the option. The handshake
 * itself is tried against a real client in mllp_tls.sh. */
#include "mllp_tls.h"

#include "check.h"

#include <sys/stat.h>

static void key_modes(void)
{
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0600, 1000) == NULL);
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0400, 1000) == NULL);
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0640, 0) == NULL); /* root:ssl-cert */
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0640, 1000) != NULL);
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0644, 0) != NULL);
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0604, 1000) != NULL);
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0602, 1000) != NULL);
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0660, 0) != NULL);
    CHECK(bp_mllp_key_mode_problem(S_IFREG | 0610, 0) != NULL);
}

static void bad_files(void)
{
    char err[1024] = "";
    CHECK(bp_mllp_tls_new("/nonexistent/c.crt", "/nonexistent/c.key", NULL, "1.2", err,
                          sizeof err) == NULL);
    CHECK(strstr(err, "tls_cert_file = /nonexistent/c.crt cannot be loaded") != NULL);
    err[0] = '\0';
    CHECK(bp_mllp_tls_new("/nonexistent/c.crt", "/nonexistent/c.key", NULL, "1.1", err,
                          sizeof err) == NULL);
    CHECK(strstr(err, "tls_min_version = 1.1: expected 1.2 or 1.3") != NULL);
}

int main(void)
{
    key_modes();
    bad_files();
    return CHECK_DONE();
}
