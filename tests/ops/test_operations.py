"""The operations-room loop on the real Rutland region: declare, re-plan, diff, failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.ops.conftest import SMALL
from watchfloor.errors import (
    InfeasibleError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from watchfloor.services import operations as ops
from watchfloor.services.regions import RegionCache, pick_region, region_view
from watchfloor.services.reports import ReportCreate, submit_report
from watchfloor.settings import Settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.keys import KeyRing
from watchfloor.storage.regions import Region

# Friday 19 June 2026, 12:00 UTC (13:00 in London): the day shift 06:00-14:00 local.
NOW = datetime(2026, 6, 19, 12, 0, tzinfo=UTC)
SUPERVISOR = ops.Actor("duty", frozenset({"supervisor"}))


def attack(**overrides: Any) -> ops.EventDeclaration:
    fields: dict[str, Any] = {
        "kind": "vehicle attack",
        "place": "Finsbury Park, London",
        "at": datetime(2026, 6, 19, 0, 20, tzinfo=UTC),
        "targeted_community": "muslim",
        "threat_level": "severe",
        "playbook": "place-of-worship-attack",
    }
    fields.update(overrides)
    return ops.EventDeclaration(**fields)


@pytest.fixture
def room(region_settings: Settings) -> Iterator[ops.OperationsRoom]:
    upgrade_database(region_settings)
    store = ops.OpsStore(open_database(region_settings))
    the_room = ops.OperationsRoom(region_settings, clock=lambda: NOW, store=store, config=SMALL)
    yield the_room
    the_room.close()


def test_declare_event_puts_a_new_plan_in_force_with_timings(room: ops.OperationsRoom) -> None:
    assert room.plan("rutland") is None
    job = room.declare_event("rutland", attack(), actor=SUPERVISOR)
    done = room.wait(job.job_id, timeout_s=60)
    assert done["status"] == "done", done["error"]
    plan = room.plan("rutland")
    assert plan is not None
    assert plan.plan_id == done["plan_id"]
    assert plan.timings_s["total"] > 0
    assert plan.timings_s["posture"] > 0
    assert plan.timings_s["total"] >= plan.timings_s["posture"]
    # Patrols for this shift and the next, each unit's route feasible, visits inside the shift.
    shifts = plan.body.shifts
    assert [s.key for s in shifts] == ["current", "next"]
    assert shifts[0].start.isoformat() == "2026-06-19T05:00:00+00:00"  # 06:00 BST
    assert shifts[1].start.isoformat() == "2026-06-19T13:00:00+00:00"
    for shift in shifts:
        assert [u.unit for u in shift.units] == ["P01", "P02", "P03"]
        assert all(u.status == "feasible" for u in shift.units)
        assert isinstance(shift.seed, int)
        start, end = shift.start, shift.end
        for unit in shift.units:
            for visit in unit.visits:
                assert start <= visit.arrive < end
    assert plan.timings_s["patrol_current"] > 0
    # Two ARVs placed, with their reach drawn.
    arv = plan.body.arv
    assert arv is not None
    assert [b.unit for b in arv.bases] == ["ARV1", "ARV2"]
    # Each base's reach in bands of 5, 10 and 15 minutes (the standard), nested outwards.
    bands = [
        (f["properties"]["unit"], f["properties"]["budget_s"], f["properties"]["n_nodes"])
        for f in arv.isochrones["features"]
    ]
    assert [(u, b) for u, b, _ in bands] == [
        (unit, budget) for unit in ("ARV1", "ARV2") for budget in (300.0, 600.0, 900.0)
    ]
    for k in (0, 3):
        assert 0 < bands[k][2] <= bands[k + 1][2] <= bands[k + 2][2]
    assert all(f["geometry"] for f in arv.isochrones["features"])
    assert 0.0 < arv.covered_share <= 1.0
    sites = plan.body.sites
    assert [s.rank for s in sites] == list(range(1, len(sites) + 1))
    risks = [s.risk for s in sites]
    assert risks == sorted(risks, reverse=True)
    # The first plan has no predecessor: every ranked site in the top 25 is "risen".
    diff = room.diff("rutland")
    assert diff is not None
    assert diff.previous_plan_id is None
    assert len(diff.risen) == min(25, len(sites))
    assert room.situation("rutland").threat_level == "severe"
    kinds = [e.kind for e in room.timeline("rutland")]
    assert kinds == ["event"]


def test_targeted_community_raises_its_places_of_worship(room: ops.OperationsRoom) -> None:
    base = room.replan("rutland", actor=SUPERVISOR)
    assert room.wait(base.job_id)["status"] == "done"
    before = {s.site_id: s for s in room.plan("rutland").body.sites}  # type: ignore[union-attr]
    job = room.declare_event("rutland", attack(), actor=SUPERVISOR)
    assert room.wait(job.job_id)["status"] == "done"
    after = {s.site_id: s for s in room.plan("rutland").body.sites}  # type: ignore[union-attr]
    region = region_view(room.settings, "rutland").region
    mosques = [
        region.sites.site_id[i]
        for i in range(len(region.sites))
        if region.sites.kind[i] == "place_of_worship" and region.sites.religion[i] == "muslim"
    ]
    others = [
        region.sites.site_id[i]
        for i in range(len(region.sites))
        if region.sites.kind[i] == "place_of_worship" and region.sites.religion[i] == "christian"
    ]
    assert others
    # A severe threat level raises every site; the targeted community's places rise more.
    ratio_other = max(after[s].risk / before[s].risk for s in others)
    for s in mosques:
        assert after[s].risk / before[s].risk > ratio_other
    diff = room.diff("rutland")
    assert diff is not None
    assert diff.previous_plan_id is not None
    assert diff.threat_level == ("substantial", "severe")


def test_failed_replan_keeps_the_last_good_plan(region_settings: Settings) -> None:
    failing = {"on": False}

    def builder(
        settings: Settings, situation: ops.Situation, now: datetime, timer: ops.Timer
    ) -> ops.PlanBody:
        if failing["on"]:
            msg = "2 patrol units cannot cover the pinned visits; add units"
            raise InfeasibleError(msg)
        return ops.default_builder(settings, situation, now, timer, SMALL)

    room = ops.OperationsRoom(region_settings, builder=builder, clock=lambda: NOW)
    try:
        good = room.wait(room.replan("rutland", actor=SUPERVISOR).job_id)
        assert good["status"] == "done"
        failing["on"] = True
        bad = room.wait(room.set_threat_level("rutland", "critical", actor=SUPERVISOR).job_id)
        assert bad["status"] == "failed"
        assert bad["error"] == "2 patrol units cannot cover the pinned visits; add units"
        plan = room.plan("rutland")
        assert plan is not None
        assert plan.plan_id == good["plan_id"]
        assert plan.body.situation["threat_level"] == "substantial"
        assert room.timeline("rutland")[0].kind == "failure"
        failing["on"] = False
        again = room.wait(room.replan("rutland", actor=SUPERVISOR).job_id)
        assert again["status"] == "done"
        assert room.plan("rutland").body.situation["threat_level"] == "critical"  # type: ignore[union-attr]
    finally:
        room.close()


def test_crash_in_a_solver_is_a_failed_job_not_a_dead_room(region_settings: Settings) -> None:
    def builder(*_args: Any) -> ops.PlanBody:
        raise ZeroDivisionError("float division by zero")

    room = ops.OperationsRoom(region_settings, builder=builder, clock=lambda: NOW)
    try:
        done = room.wait(room.replan("rutland", actor=SUPERVISOR).job_id)
        assert done["status"] == "failed"
        assert done["error"] == "ZeroDivisionError: float division by zero"
        assert room.plan("rutland") is None
    finally:
        room.close()


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"at": NOW + timedelta(hours=2)}, "in the future"),
        ({"at": datetime(2017, 6, 19, 0, 20, tzinfo=UTC)}, "before region 'rutland'.s map data"),
        ({"playbook": "storm-the-castle"}, "unknown playbook 'storm-the-castle'; available"),
        ({"threat_level": "elevated"}, "unknown threat level 'elevated'"),
        ({"kind": "teleportation"}, "event key 'kind' has 'teleportation'; allowed values"),
        ({"at": datetime(2026, 6, 19, 0, 20)}, "has no time zone"),
    ],
)
def test_bad_events_are_refused_and_the_plan_stays(
    room: ops.OperationsRoom, overrides: dict[str, Any], match: str
) -> None:
    first = room.wait(room.replan("rutland", actor=SUPERVISOR).job_id)
    with pytest.raises(InvalidInputError, match=match):
        room.declare_event("rutland", attack(**overrides), actor=SUPERVISOR)
    assert room.plan("rutland").plan_id == first["plan_id"]  # type: ignore[union-attr]
    assert room.situation("rutland").event is None
    assert [e.kind for e in room.timeline("rutland")] == []


def test_region_not_built_is_not_found(room: ops.OperationsRoom) -> None:
    with pytest.raises(NotFoundError, match="region 'bedfordshire' is not built"):
        room.declare_event("bedfordshire", attack(), actor=SUPERVISOR)
    with pytest.raises(NotFoundError, match="region 'bedfordshire' is not built"):
        pick_region(room.settings, "bedfordshire")


def test_only_planning_roles_change_the_situation(room: ops.OperationsRoom) -> None:
    reviewer = ops.Actor("call-handler", frozenset({"reviewer"}))
    with pytest.raises(PermissionDeniedError, match="planner, supervisor or regional_ct"):
        room.declare_event("rutland", attack(), actor=reviewer)
    with pytest.raises(PermissionDeniedError, match="supervisor or planner"):
        room.publish_message("rutland", "We are here.", actor=reviewer)


def test_calendar_entry_is_validated(room: ops.OperationsRoom) -> None:
    start = NOW + timedelta(hours=1)
    with pytest.raises(InvalidInputError, match="ends before it starts"):
        room.add_calendar_entry(
            "rutland",
            ops.CalendarEntry("vigil", start, start - timedelta(hours=1)),
            actor=SUPERVISOR,
        )
    job = room.add_calendar_entry(
        "rutland", ops.CalendarEntry("vigil", start, start + timedelta(hours=2)), actor=SUPERVISOR
    )
    assert room.wait(job.job_id)["status"] == "done"
    assert [c.name for c in room.situation("rutland").calendar] == ["vigil"]


def test_tension_alert_near_a_site_raises_it_and_shows_an_area(room: ops.OperationsRoom) -> None:
    room.wait(room.replan("rutland", actor=SUPERVISOR).job_id)
    before = {s.site_id: s.risk for s in room.plan("rutland").body.sites}  # type: ignore[union-attr]
    region = region_view(room.settings, "rutland").region
    i = region.sites.kind.index("town_centre")
    alert = {
        "summary": "Oakham: 9 hate incidents in 3 days against 1.2 expected",
        "lon": float(region.sites.lon[i]),
        "lat": float(region.sites.lat[i]),
        "level": 4,
        "radius_m": 500,
    }
    job = room.raise_alert("rutland", alert)
    assert room.wait(job.job_id)["status"] == "done"
    plan = room.plan("rutland")
    assert plan is not None
    after = {s.site_id: s for s in plan.body.sites}
    sid = region.sites.site_id[i]
    assert after[sid].risk > before[sid]
    assert any("Oakham: 9 hate incidents" in r for r in after[sid].reasons)
    assert plan.body.tension["features"][0]["properties"]["level"] == 4
    assert plan.trigger.startswith("tension alert: Oakham")


def test_regional_ct_sees_alerts_of_every_region(room: ops.OperationsRoom) -> None:
    room.raise_alert("rutland", {"summary": "rise in Oakham"})
    room.raise_alert("leicestershire", {"summary": "rise in Loughborough"})
    regional = ops.Actor("rctu", frozenset({"regional_ct"}))
    local = ops.Actor("hco", frozenset({"hate_crime_officer"}), region="rutland")
    assert {e.region for e in room.alerts(regional)} == {"rutland", "leicestershire"}
    assert {e.region for e in room.alerts(local)} == {"rutland"}


def test_plans_log_and_messages_survive_a_restart(region_settings: Settings) -> None:
    upgrade_database(region_settings)
    room = ops.OperationsRoom(
        region_settings,
        clock=lambda: NOW,
        store=ops.OpsStore(open_database(region_settings)),
        config=SMALL,
    )
    try:
        done = room.wait(room.declare_event("rutland", attack(), actor=SUPERVISOR).job_id)
        room.publish_message(
            "rutland", "Officers are at places of worship today.", actor=SUPERVISOR
        )
    finally:
        room.close()
    again = ops.OperationsRoom(
        region_settings,
        clock=lambda: NOW,
        store=ops.OpsStore(open_database(region_settings)),
        config=SMALL,
    )
    try:
        plan = again.plan("rutland")
        assert plan is not None
        assert plan.plan_id == done["plan_id"]
        assert plan.timings_s["total"] == pytest.approx(done["timings_s"]["total"])
        assert again.situation("rutland").event is not None
        assert again.situation("rutland").threat_level == "severe"
        message = again.published_message("rutland")
        assert message is not None
        assert message.text == "Officers are at places of worship today."
    finally:
        again.close()


def test_shift_at_known_answers() -> None:
    # 13:00 BST is in the 06:00-14:00 local shift = 05:00-13:00 UTC.
    day = ops.shift_at(datetime(2026, 6, 19, 12, 0, tzinfo=UTC))
    assert (day.start, day.end) == (
        datetime(2026, 6, 19, 5, 0, tzinfo=UTC),
        datetime(2026, 6, 19, 13, 0, tzinfo=UTC),
    )
    # 02:00 GMT in January belongs to the night shift that began at 22:00 the day before.
    night = ops.shift_at(datetime(2026, 1, 10, 2, 0, tzinfo=UTC))
    assert night.start == datetime(2026, 1, 9, 22, 0, tzinfo=UTC)
    nxt = list(ops.iter_shifts(datetime(2026, 1, 10, 2, 0, tzinfo=UTC), 2))[1]
    assert nxt.start == datetime(2026, 1, 10, 6, 0, tzinfo=UTC)


@hsettings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    )
)
def test_every_moment_is_in_exactly_its_shift(moment: datetime) -> None:
    shift = ops.shift_at(moment)
    assert shift.start <= moment < shift.end
    # 8 hours of wall clock: 7 or 9 real hours across a clock change
    offset = {
        t: t.astimezone(ZoneInfo("Europe/London")).utcoffset() for t in (shift.start, shift.end)
    }
    change = offset[shift.start] - offset[shift.end]
    assert shift.end - shift.start == timedelta(hours=8) + change
    # shifts tile time: the next one starts where this one ends
    assert ops.shift_at(shift.end).start == shift.end
    assert ops.shift_at(shift.start - timedelta(microseconds=1)).end == shift.start


def test_shifts_across_the_clock_changes() -> None:
    # 27 Oct 2024: clocks go back at 02:00 BST; the night shift 22:00-06:00 is 9 hours.
    autumn = ops.shift_at(datetime(2024, 10, 27, 5, 0, tzinfo=UTC))
    assert autumn.start == datetime(2024, 10, 26, 21, 0, tzinfo=UTC)
    assert autumn.end == datetime(2024, 10, 27, 6, 0, tzinfo=UTC)
    assert autumn.label == "Sat 26 Oct 22:00-06:00"
    # 31 Mar 2024: clocks go forward at 01:00 GMT; that night shift is 7 hours.
    spring = ops.shift_at(datetime(2024, 3, 31, 4, 30, tzinfo=UTC))
    assert (spring.start, spring.end) == (
        datetime(2024, 3, 30, 22, 0, tzinfo=UTC),
        datetime(2024, 3, 31, 5, 0, tzinfo=UTC),
    )
    assert spring.label == "Sat 30 Mar 22:00-06:00"


def test_compare_plans_known_answer() -> None:
    def site(site_id: str, rank: int) -> ops.RankedSite:
        return ops.RankedSite(
            site_id, site_id.upper(), "", "", 0.0, 0.0, 0, 0.0, rank, NOW, (f"why {site_id}",)
        )

    def unit(k: int, name: str, sites: list[str]) -> ops.UnitPatrol:
        visits = tuple(ops.Visit(v, v, NOW, NOW, 0.0, False, 0.0, 0.0) for v in sites)
        return ops.UnitPatrol(name, k, "vehicle", "", visits, 0.0, "feasible")

    def plan(plan_id: str, ranks: list[str], routes: dict[str, list[str]]) -> ops.Plan:
        units = tuple(unit(k, u, vs) for k, (u, vs) in enumerate(routes.items()))
        shift = ops.ShiftPatrols("current", "", NOW, NOW, 0, "", 0.0, 0.0, {}, 0, units)
        body = ops.PlanBody(
            region="r",
            situation={"threat_level": "substantial"},
            sites=tuple(site(s, k + 1) for k, s in enumerate(ranks)),
            shifts=(shift,),
        )
        return ops.Plan(plan_id, "r", NOW, "t", {"total": 1.0}, body)

    old = plan("p1", ["a", "b", "c"], {"P1": ["a", "b"], "P2": ["c"]})
    new = plan("p2", ["c", "a", "b", "d"], {"P1": ["a", "b"], "P2": ["c", "d"]})
    diff = ops.compare_plans(old, new)
    # c rose from 3 to 1; d is new at 4; a and b fell.
    assert [(r["site_id"], r["old_rank"], r["new_rank"]) for r in diff.risen] == [
        ("c", 3, 1),
        ("d", None, 4),
    ]
    assert diff.risen[0]["reason"] == "why c"
    assert diff.changed_units == (
        {"unit": "P2", "shift": "current", "added": ["d"], "removed": []},
    )


def test_a_room_takes_in_what_another_process_stored(region_settings: Settings) -> None:
    upgrade_database(region_settings)

    def new_room() -> ops.OperationsRoom:
        store = ops.OpsStore(open_database(region_settings))
        return ops.OperationsRoom(region_settings, clock=lambda: NOW, store=store, config=SMALL)

    server, cli = new_room(), new_room()
    try:
        assert server.plan("rutland") is None
        done = cli.wait(cli.declare_event("rutland", attack(), actor=SUPERVISOR).job_id)
        server.sync(min_interval_s=0.0)
        plan = server.plan("rutland")
        assert plan is not None
        assert plan.plan_id == done["plan_id"]
        assert server.situation("rutland").threat_level == "severe"
        assert server.diff("rutland") is not None
        assert [e.kind for e in server.timeline("rutland")] == ["event"]
    finally:
        server.close()
        cli.close()


def test_a_cluster_of_reports_near_a_site_raises_an_alert_and_replans(
    room: ops.OperationsRoom, region_settings: Settings
) -> None:
    database = open_database(region_settings)
    keyring = KeyRing(keys={"k1": bytes(range(32))}, current_id="k1")
    region = region_view(room.settings, "rutland").region
    i = region.sites.kind.index("place_of_worship")
    lon, lat = float(region.sites.lon[i]), float(region.sites.lat[i])
    # Three reports within ~100 m of the site in the last day: a cluster (3 >= 3 within 300 m).
    for k in range(3):
        data = ReportCreate(
            kind="suspicious_behaviour",
            description="Man photographing the entrance",
            lon=lon + 0.0005 * k,
            lat=lat,
        )
        submit_report(
            database, data, keyring=keyring, secret=b"s" * 32, now=NOW - timedelta(hours=k)
        )
    jobs = ops.watch_report_clusters(room, database, "rutland", now=NOW)
    assert jobs
    assert all(room.wait(j.job_id)["status"] == "done" for j in jobs)
    alert = room.timeline("rutland")[0]
    assert alert.kind == "report_cluster"
    assert alert.summary.startswith("3 reports within 300 m of")
    # The same cluster is not alerted twice in its window.
    assert ops.watch_report_clusters(room, database, "rutland", now=NOW) == []
    database.dispose()


def test_the_region_is_read_once_for_declare_and_two_replans(
    rutland_region: Region, region_settings: Settings
) -> None:
    # Every read of the region (checking the event against its data time, each
    # plan's load) goes through the room's region cache: one read for three plans.
    reads: list[Path] = []

    def loader(folder: Path) -> Region:
        reads.append(folder)
        return rutland_region

    room = ops.OperationsRoom(
        region_settings, clock=lambda: NOW, config=SMALL, regions=RegionCache(loader=loader)
    )
    try:
        for job in (
            room.declare_event("rutland", attack(), actor=SUPERVISOR),
            room.replan("rutland", actor=SUPERVISOR),
            room.set_threat_level("rutland", "critical", actor=SUPERVISOR),
        ):
            assert room.wait(job.job_id)["status"] == "done"
    finally:
        room.close()
    assert [p.name for p in reads] == ["rutland"]
