"""A field visit through the SDK's generated Python bindings, against a real server.

Run by the Rust test `bindings::python_bindings_drive_a_visit` (tests/tests/e2e/bindings.rs),
which starts the server, generates the bindings and checks the server afterwards. Phases:

  visit     sign in, download the agenda, go offline, check in, watermark photos, answer,
            sign off, submit; come back online and sync, killed after every acknowledged step
  sync-one  (child process) sync and die at once after the first acknowledged entry
  rework    the supervisor returned the task: see why, rework, resubmit

Configuration comes from the environment: LOANWATCH_URL, LOANWATCH_DATA, LOANWATCH_TASK,
LOANWATCH_USER, LOANWATCH_PASSWORD, LOANWATCH_FONT, LOANWATCH_CAMERA (a directory of
1.jpg, 2.jpg… as the camera took them), LOANWATCH_RESULT.
"""

import json
import os
import subprocess
import sys
import time

import loanwatch_sdk as sdk

URL = os.environ["LOANWATCH_URL"]
DATA = os.environ["LOANWATCH_DATA"]
TASK = os.environ["LOANWATCH_TASK"]
OFFLINE = "http://127.0.0.1:9"  # nothing listens there
KILLED = 137


def fix(lat=39.911954, lng=116.377817, mock=False):
    return sdk.LocationFix(
        latitude=lat,
        longitude=lng,
        datum="wgs84",
        accuracy_m=9.0,
        provider="gps",
        mock_location=mock,
        fix_time_ms=int(time.time() * 1000) - 5000,
    )


def expect_error(kind, f, *args):
    try:
        f(*args)
    except kind as e:
        return e
    raise AssertionError(f"expected {kind.__name__} from {f.__name__}")


def camera(n):
    with open(os.path.join(os.environ["LOANWATCH_CAMERA"], f"{n}.jpg"), "rb") as f:
        return f.read()


def photo(client, marker, item, jpeg):
    stamp = client.stamp(TASK, fix())
    p = marker.watermark(jpeg, stamp)
    client.add_photo(TASK, item, p, stamp)
    return p.sha256


def visit():
    online = sdk.Client(URL, DATA)
    expect_error(sdk.SdkError.Auth, online.login, os.environ["LOANWATCH_USER"], "wrong")
    me = online.login(os.environ["LOANWATCH_USER"], os.environ["LOANWATCH_PASSWORD"])
    agenda = online.download_agenda(None, None)
    mine = [t for t in agenda if t.id == TASK]
    assert mine and mine[0].status == "assigned", agenda
    assert mine[0].borrower_name == "北京汇通商贸有限公司", mine[0]
    del online

    client = sdk.Client(OFFLINE, DATA)
    assert client.officer().id == me.id
    client.start_task(TASK)
    verdict = client.check_in(TASK, fix())
    assert verdict.trusted and verdict.site_name == "厂区大门", verdict
    flagged = client.check_in(TASK, fix(lat=39.96, mock=True))
    flags = {r.flag for r in flagged.reasons}
    assert {"outside_geofence", "mock_location"} <= flags, flags
    # Leaving the gate at once is too short a visit: flagged on the phone as on the server.
    assert [r.flag for r in client.check_out(verdict.checkin_id)] == ["short_dwell"]
    expect_error(sdk.SdkError.Conflict, client.check_out, verdict.checkin_id)
    checklist = client.checklist(TASK)
    assert checklist.template_code == "enterprise_first_inspection"
    e = expect_error(sdk.SdkError.Validation, client.answer, TASK, "operations_status", '"booming"')
    assert e.field == "operations_status", e
    for key, value in [
        ("proceeds_as_agreed", "false"),
        ("proceeds_deviation", json.dumps("部分资金流入关联企业")),
        ("payee_matches_contract", "true"),
        ("operations_status", '"normal"'),
        ("capacity_utilisation_pct", "85"),
        ("inventory_reasonable", "true"),
        ("risk_assessment", '"attention"'),
    ]:
        client.answer(TASK, key, value)
    e = expect_error(sdk.SdkError.Validation, client.sign_off, TASK)
    assert e.field == "site_photos", e

    marker = sdk.Watermarker(os.environ["LOANWATCH_FONT"], 0)
    hashes = [
        photo(client, marker, "site_photos", camera(1)),
        photo(client, marker, "site_photos", camera(2)),
        photo(client, marker, "proceeds_evidence", camera(3)),
    ]
    assert len(set(hashes)) == 3, hashes
    assert client.sign_off(TASK).signed
    client.submit(TASK)
    queued = len(client.outbox())
    expect_error(sdk.SdkError.Network, client.sync, True, None)
    assert len(client.outbox()) == queued
    del client

    # Online again; the app is killed right after each acknowledged step and restarted.
    for step in range(queued):
        child = subprocess.run([sys.executable, __file__, "sync-one"], env=os.environ)
        assert child.returncode == KILLED, f"step {step}: exit {child.returncode}"
        left = len(sdk.Client(URL, DATA).outbox())
        assert left == queued - step - 1, f"step {step}: {left} left"
    report = sdk.Client(URL, DATA).sync(True, None)
    assert (report.sent, report.remaining, report.parked) == (0, 0, 0), report
    with open(os.environ["LOANWATCH_RESULT"], "w") as f:
        json.dump({"hashes": hashes, "steps": queued}, f)


class DieAfterOne(sdk.SyncProgress):
    def on_progress(self, done, total, what):
        os._exit(KILLED)


def sync_one():
    sdk.Client(URL, DATA).sync(True, DieAfterOne())
    sys.exit("the sync acknowledged nothing")


def rework():
    client = sdk.Client(URL, DATA)
    task = [t for t in client.download_agenda(None, None) if t.id == TASK][0]
    assert task.status == "returned" and task.return_comment == "补拍仓库照片", task
    client.start_task(TASK)
    assert not client.checklist(TASK).signed
    marker = sdk.Watermarker(os.environ["LOANWATCH_FONT"], 0)
    photo(client, marker, "site_photos", camera(4))
    client.sign_off(TASK)
    client.submit(TASK)

    class Count(sdk.SyncProgress):
        seen = []

        def on_progress(self, done, total, what):
            self.seen.append((done, total, what))
            return True

    progress = Count()
    report = client.sync(False, progress)
    assert (report.remaining, report.parked) == (0, 0), report
    assert [w for _, _, w in progress.seen] == ["start_task", "evidence", "sign_off", "submit"], progress.seen
    client.logout()
    assert client.officer() is None
    expect_error(sdk.SdkError.Auth, client.download_agenda, None, None)


if __name__ == "__main__":
    {"visit": visit, "sync-one": sync_one, "rework": rework}[sys.argv[1]]()
    print(f"{sys.argv[1]}: ok")
