"""The reports package: its public surface, its vocabulary, the site index, outbox counts."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
from sqlalchemy import insert, select

from watchfloor.services import reports as svc
from watchfloor.settings import ReportingOptions
from watchfloor.sites.register import SiteRegister
from watchfloor.storage.models import OutboxMessage, Report, utc_now
from watchfloor.types import ReportQueue, ReportStatus, Role

SECRET = b"test-secret-key-0123456789abcdef"

# The names callers use (routes, CLI, demo, tests); changing it is a decision, not an accident.
PUBLIC = {
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
}


def test_public_surface_is_pinned_and_importable() -> None:
    assert set(svc.__all__) == PUBLIC
    for name in svc.__all__:
        assert getattr(svc, name) is not None
    # ``svc.triage`` is the function, as before the package (it shadows the module of the
    # same name as an attribute); the module stays importable by its full name.
    triage_module = importlib.import_module("watchfloor.services.reports.triage")
    assert svc.triage is triage_module.triage


def test_every_module_lists_only_names_it_defines_or_imports() -> None:
    for info in pkgutil.iter_modules(svc.__path__):
        module = importlib.import_module(f"{svc.__name__}.{info.name}")
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_vocabulary_comes_from_watchfloor_types() -> None:
    assert list(svc.QUEUES) == list(ReportQueue)
    assert svc.QUEUES[ReportQueue.HATE_CRIME] == "Hate crime"
    assert tuple(ReportStatus) == svc.STATUSES
    # Strings read from a request or the database find their member.
    assert "ct" in svc.QUEUES
    assert "closed" in svc.STATUSES
    for roles in (svc.READ_ROLES, svc.WORK_ROLES, svc.BULK_ROLES, svc.CONTACT_ROLES):
        assert all(isinstance(role, Role) for role in roles)
    assert Role.PLANNER not in svc.READ_ROLES
    assert Role.ADMIN not in svc.READ_ROLES
    assert {"reviewer", "supervisor"} == svc.BULK_ROLES


def test_site_index_keeps_only_high_risk_sites() -> None:
    # Four sites, two of them high-risk kinds: the mosque (named) and the stadium (unnamed,
    # so its category stands in for the name); the school and the pub stay out.
    register = SiteRegister.from_columns(
        {
            "site_id": ["n1", "n2", "w3", "n4"],
            "kind": ["place_of_worship", "school", "crowded_place", "nte_venue"],
            "category": ["place_of_worship", "school", "stadium", "pub"],
            "name": ["Oakham Mosque", "Oakham School", "", "The Wheatsheaf"],
            "lon": [-0.72, -0.73, -0.74, -0.75],
            "lat": [52.67, 52.68, 52.69, 52.70],
        }
    )
    index = svc.site_index_from_register(register)
    assert index.site_id == ["n1", "w3"]
    assert index.name == ["Oakham Mosque", "stadium"]
    assert index.kind == ["place_of_worship", "crowded_place"]
    np.testing.assert_allclose(index.lon, [-0.72, -0.74])
    np.testing.assert_allclose(index.lat, [52.67, 52.69])


def test_load_site_index_without_a_region_is_empty(settings) -> None:
    assert svc.load_site_index(settings, None).site_id == []
    # A region that is not built: empty, and triage ignores site closeness.
    assert svc.load_site_index(settings, "nowhere").site_id == []


def test_outbox_counts_by_state(database, keyring) -> None:
    with database.sessions() as session:
        assert svc.outbox_counts(session) == svc.OutboxState(pending=0, sent=0, stuck=0)
    # A counter-terrorism report with forwarding on: one pending message; then one more
    # pending, one sent and three stuck for the same report.
    data = svc.ReportCreate(kind="suspicious_item", description="a bag left", place_text="x")
    options = ReportingOptions(forward_url="http://127.0.0.1:9/")
    svc.submit_report(database, data, keyring=keyring, secret=SECRET, options=options)
    now = utc_now()
    with database.engine.begin() as conn:
        report_id = conn.execute(select(Report.id)).scalar_one()
        conn.execute(
            insert(OutboxMessage),
            [
                {
                    "report_id": report_id,
                    "destination": "regional_ct",
                    "status": status,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                    "created_at": now,
                    "sent_at": None,
                }
                for status in ("pending", "sent", "stuck", "stuck", "stuck")
            ],
        )
    with database.sessions() as session:
        assert svc.outbox_counts(session) == svc.OutboxState(pending=2, sent=1, stuck=3)
