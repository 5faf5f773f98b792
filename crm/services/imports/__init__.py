"""Importing affiliates from CSV/XLSX: the UI, the Celery task and `import_affiliates` share this.

The run, per batch of the file: map the columns, normalise them vectorised (crm.importing, over
crm.normalize), COPY the rows to import into a temporary staging table and the rows with problems,
with their row number and reasons, into RejectedRow: the rejected ones (no usable code or CPF, no
name) and those imported with a bad optional field left blank (warnings; see
crm.normalize.REJECTING_REASONS). Then, in one transaction: resolve keys (external id, falling back
to the CPF), merge rows repeated in the file (newest non-blank value per field), record what
changes, and upsert everything with one INSERT ... ON CONFLICT.

A big file into an empty base (the first import of a UDN) skips the staging table: its rows are
COPYed straight into crm_affiliate, without its indexes, in one transaction.

- `jobs`: a job's life: create, mapping, queue, cancel, retry, reap (and the run's lease name);
- `run`: the run a worker claims (`import_job_run`, `affiliates_import`) and the general way;
- `staging`: reading the file in batches and COPYing them, the staging table and its merge;
- `first_load`: the first load of an empty base;
- `sql`: the statements, generated from the standard fields (crm.fields).
"""

from crm.services.imports.jobs import (
    IMPORT_COUNTERS,
    RETRYABLE,
    import_job_cancel,
    import_job_create,
    import_job_discard,
    import_job_path,
    import_job_retry,
    import_jobs_reap,
    import_lease_name,
    import_mapping_clean,
    import_mapping_save,
    import_queue,
)
from crm.services.imports.run import ImportCancelled, affiliates_import, import_job_run
from crm.services.imports.sql import CHANGES_SQL, UPSERT_SQL, merged_rows_sql

__all__ = [
    "CHANGES_SQL",
    "IMPORT_COUNTERS",
    "RETRYABLE",
    "UPSERT_SQL",
    "ImportCancelled",
    "affiliates_import",
    "import_job_cancel",
    "import_job_discard",
    "import_job_create",
    "import_job_path",
    "import_job_retry",
    "import_job_run",
    "import_jobs_reap",
    "import_lease_name",
    "import_mapping_clean",
    "import_mapping_save",
    "import_queue",
    "merged_rows_sql",
]
