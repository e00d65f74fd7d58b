/* OpenSSL's certificate verification errors (<openssl/x509_vfy.h>), by number, for the code
 * that explains a TLS failure (lib/kafka/kafka_talk.c, sink-es's es_tls.c). Neither links
 * OpenSSL itself (librdkafka and libcurl do), and these values are part of OpenSSL's ABI. */
#ifndef BP_COMMON_X509_CODES_H
#define BP_COMMON_X509_CODES_H

enum {
    X509_ISSUER_UNKNOWN = 2,     /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT */
    X509_NOT_YET_VALID = 9,      /* X509_V_ERR_CERT_NOT_YET_VALID */
    X509_EXPIRED = 10,           /* X509_V_ERR_CERT_HAS_EXPIRED */
    X509_SELF_SIGNED = 18,       /* X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT */
    X509_SELF_SIGNED_CHAIN = 19, /* X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN */
    X509_ISSUER_NOT_LOCAL = 20,  /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY */
    X509_LEAF_UNVERIFIABLE = 21, /* X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE */
    X509_HOSTNAME_MISMATCH = 62, /* X509_V_ERR_HOSTNAME_MISMATCH */
    X509_IP_MISMATCH = 64        /* X509_V_ERR_IP_ADDRESS_MISMATCH */
};

#endif
