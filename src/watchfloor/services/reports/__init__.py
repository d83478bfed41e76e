"""The public reporting service: intake, triage, receipts, staff workflow, retention, forwarding.

One module per concern, in the order a report meets them:

* :mod:`.schemas`: the vocabulary (kinds, queues, statuses) and the pydantic
  schemas in and out (:class:`ReportCreate`, :class:`ReportReceipt`,
  :class:`ReportDetail` ...), photo checks. No database.
* :mod:`.triage`: the triage policy (queue, priority and reasons), the
  region's high-risk sites (:data:`HIGH_RISK_KINDS`, :class:`SiteIndex`),
  MinHash signatures. No database.
* :mod:`.receipts`: receipt codes, their hash, idempotency sealing, and what a
  reporter can do with a receipt (status, add information).
* :mod:`.duplicates`: the near-duplicate pass after the commit (apart from
  intake: it is its own transaction, run by the writer between commits).
* :mod:`.intake`: preparing a submission and storing many in one commit (the
  report writer's group commit); :func:`submit_report` one at a time.
* :mod:`.staff`: roles, queues, reading, status changes, notes, bulk actions,
  exports, opening contact details and photos.
* :mod:`.retention`: anonymising closed reports, re-encryption under a new key.
* :mod:`.forwarding`: the outbox to the regional CT unit and its counts.

Modules import only those above them in this list (forwarding only the
schemas), storage, the settings, :mod:`watchfloor.services.auth` (the staff
account type) and the foundation; never the web or the CLI. Nothing logs
report text or reporter identity. The names below are the package's public
surface: ``from watchfloor.services import reports as svc; svc.submit_report(...)``.
``svc.triage`` is the function (as before the package); the module is
``watchfloor.services.reports.triage``, imported by its full name.
"""

from __future__ import annotations

from watchfloor.services.reports.duplicates import link_pending_duplicates
from watchfloor.services.reports.forwarding import (
    DeliveryResult,
    backoff,
    build_payload,
    deliver_outbox,
    outbox_counts,
)
from watchfloor.services.reports.intake import (
    Outcome,
    ReportWriter,
    Submission,
    prepare_submission,
    store_submissions,
    submit_report,
)
from watchfloor.services.reports.receipts import (
    add_information,
    format_receipt,
    random_code,
    receipt_hasher,
    receipt_status,
)
from watchfloor.services.reports.retention import anonymise_closed_reports, reencrypt_all
from watchfloor.services.reports.schemas import (
    KINDS,
    PROTECTED_CHARACTERISTICS,
    QUEUES,
    STATUSES,
    BulkResult,
    Contact,
    OutboxState,
    Photo,
    PhotoUpload,
    QueuePage,
    ReceiptStatus,
    ReportCreate,
    ReportDetail,
    ReportEventOut,
    ReportReceipt,
    ReportSummary,
    check_photo,
    decode_photo_uploads,
)
from watchfloor.services.reports.staff import (
    BULK_ROLES,
    CONTACT_ROLES,
    EXPORT_ROLES,
    READ_ROLES,
    WORK_ROLES,
    add_note,
    bulk_action,
    change_status,
    dumps_geojson,
    export_csv,
    export_geojson,
    get_report,
    list_queue,
    open_attachment,
    open_contact,
    retriage,
)
from watchfloor.services.reports.triage import (
    HIGH_RISK_KINDS,
    SiteIndex,
    Triage,
    load_site_index,
    minhash_signature,
    similarity,
    site_index_from_register,
    triage,
)

__all__ = [
    "BULK_ROLES",
    "CONTACT_ROLES",
    "EXPORT_ROLES",
    "HIGH_RISK_KINDS",
    "KINDS",
    "PROTECTED_CHARACTERISTICS",
    "QUEUES",
    "READ_ROLES",
    "STATUSES",
    "WORK_ROLES",
    "BulkResult",
    "Contact",
    "DeliveryResult",
    "OutboxState",
    "Outcome",
    "Photo",
    "PhotoUpload",
    "QueuePage",
    "ReceiptStatus",
    "ReportCreate",
    "ReportDetail",
    "ReportEventOut",
    "ReportReceipt",
    "ReportSummary",
    "ReportWriter",
    "SiteIndex",
    "Submission",
    "Triage",
    "add_information",
    "add_note",
    "anonymise_closed_reports",
    "backoff",
    "build_payload",
    "bulk_action",
    "change_status",
    "check_photo",
    "decode_photo_uploads",
    "deliver_outbox",
    "dumps_geojson",
    "export_csv",
    "export_geojson",
    "format_receipt",
    "get_report",
    "link_pending_duplicates",
    "list_queue",
    "load_site_index",
    "minhash_signature",
    "open_attachment",
    "open_contact",
    "outbox_counts",
    "prepare_submission",
    "random_code",
    "receipt_hasher",
    "receipt_status",
    "reencrypt_all",
    "retriage",
    "similarity",
    "site_index_from_register",
    "store_submissions",
    "submit_report",
    "triage",
]
