#include "alarm/ack_config.h"

#include "alarm/audit.h"
#include "alarm/users.h"
#include "config/options.h"

#include <stdio.h>

static const bp_kv *key_of(const bp_config *cfg, const char *key)
{
    const bp_section *s = bp_config_find(cfg, "alarms");
    const bp_kv *kv = s ? bp_section_get(s, key) : NULL;
    return kv && kv->value && *kv->value ? kv : NULL;
}

const char *bp_alarm_users_file(const bp_config *cfg)
{
    const bp_kv *kv = key_of(cfg, "users_file");
    return kv ? kv->value : NULL;
}

const char *bp_alarm_audit_file(const bp_config *cfg)
{
    const bp_kv *kv = key_of(cfg, "audit_file");
    return kv ? kv->value : NULL;
}

size_t bp_alarm_ack_check(const bp_config *cfg, bp_errors *errs)
{
    const bp_kv *users = key_of(cfg, "users_file"), *audit = key_of(cfg, "audit_file");
    size_t before = errs->n;
    char where[512], err[1024];
    if (users) {
        bp_users *u = bp_users_load(users->value, err, sizeof err);
        if (!u)
            bp_errors_add(errs, "%s: [alarms] %s",
                          bp_where(users->file, users->line, where, sizeof where), err);
        bp_users_free(u);
    }
    if (audit && bp_audit_check_path(audit->value, err, sizeof err) != 0)
        bp_errors_add(errs, "%s: [alarms] %s",
                      bp_where(audit->file, audit->line, where, sizeof where), err);
    const bp_kv *alone = users && !audit ? users : audit && !users ? audit : NULL;
    if (alone)
        bp_errors_add(errs,
                      "%s: [alarms] %s is set without %s: acknowledgements need both (who may "
                      "acknowledge, and the audit file every acknowledgement is written to)",
                      bp_where(alone->file, alone->line, where, sizeof where), alone->key,
                      alone == users ? "audit_file" : "users_file");
    return errs->n - before;
}
