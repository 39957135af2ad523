/*
 * S3 storage backend: placeholder until the S3 client lands (issue 3). Opening an s3:// location
 * fails with a configuration error that says so.
 */
#include "storage.h"

#include "err.h"

#include "banned.h"

struct storage *
storage_s3_open(const struct storage_s3_params *params, struct jr_err *err)
{
    jr_err_set(err, JR_E_CONFIG, "cannot open 's3://%s': S3 storage is not available in this build",
               params->bucket);
    return NULL;
}
