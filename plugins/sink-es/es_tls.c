#include "es_tls.h"

#include "common/x509_codes.h"

#include <curl/curl.h>

#include <stdio.h>
#include <string.h>

int bp_es_tls_fatal(int curl_code)
{
    return curl_code == CURLE_PEER_FAILED_VERIFICATION || curl_code == CURLE_SSL_CACERT_BADFILE ||
           curl_code == CURLE_SSL_CRL_BADFILE || curl_code == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* "host" of "https://host:port/path" (user:password@ already dropped from the shown form) */
static void host_of(const char *node, char *out, size_t cap)
{
    const char *h = strstr(node, "://");
    h = h ? h + 3 : node;
    size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
    snprintf(out, cap, "%.*s", (int)n, h);
}

void bp_es_tls_advice(int curl_code, long verify_result, const char *detail, const char *node,
                      const char *ca_file, char *out, size_t cap)
{
    char host[256];
    host_of(node, host, sizeof host);
    const char *d = detail && *detail ? detail : curl_easy_strerror((CURLcode)curl_code);
    int given = ca_file && *ca_file;
    if (curl_code == CURLE_SSL_CACERT_BADFILE) {
        if (given)
            snprintf(out, cap,
                     "TLS: ca_file = %s holds no CA certificate this build can use "
                     "(%s): give the PEM file of the CA that signed the cluster's certificate",
                     ca_file, d);
        else
            snprintf(out, cap,
                     "TLS: the system's CA certificates cannot be read (%s): give the "
                     "cluster's CA as ca_file = FILE.pem",
                     d);
        return;
    }
    if (curl_code != CURLE_PEER_FAILED_VERIFICATION) {
        snprintf(out, cap, "TLS with %s failed (%s)", node, d);
        return;
    }
    /* libcurl checks the name itself once OpenSSL trusted the chain, and says so only in its
     * words ("... does not match target host name", "no alternative certificate subject name
     * matches target host name"); OpenSSL's result is then not about the name. */
    if (strstr(d, "target host name"))
        verify_result = X509_HOSTNAME_MISMATCH;
    switch (verify_result) {
    case X509_HOSTNAME_MISMATCH:
    case X509_IP_MISMATCH:
        snprintf(out, cap,
                 "TLS: the certificate of %s is issued for another host name than %s "
                 "(its CA is trusted%s%s; %s): put in url a name the certificate was issued for, "
                 "or have it issued for %s",
                 node, host, given ? ", ca_file = " : "", given ? ca_file : "", d, host);
        return;
    case X509_ISSUER_UNKNOWN:
    case X509_SELF_SIGNED:
    case X509_SELF_SIGNED_CHAIN:
    case X509_ISSUER_NOT_LOCAL:
    case X509_LEAF_UNVERIFIABLE:
        if (given)
            snprintf(out, cap,
                     "TLS: the certificate of %s is not signed by the CA in ca_file = "
                     "%s (%s): give the CA that signed the cluster's certificate",
                     node, ca_file, d);
        else
            snprintf(out, cap,
                     "TLS: the certificate of %s is signed by a CA this host does not "
                     "trust, and no ca_file is given (%s): give the cluster's CA as ca_file = "
                     "FILE.pem (verify = false only for a first test)",
                     node, d);
        return;
    case X509_EXPIRED:
        snprintf(out, cap,
                 "TLS: the certificate of %s has expired (%s): renew it, or check "
                 "this host's clock",
                 node, d);
        return;
    case X509_NOT_YET_VALID:
        snprintf(out, cap,
                 "TLS: the certificate of %s is not valid yet (%s): check this host's "
                 "clock",
                 node, d);
        return;
    default:
        snprintf(out, cap,
                 "TLS: the certificate of %s was refused (%s; OpenSSL verify error "
                 "%ld); ca_file = %s",
                 node, d, verify_result, given ? ca_file : "(none given)");
        return;
    }
}
