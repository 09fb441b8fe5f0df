"""deploy/: the systemd units, the settings files and the install script.

deploy/install-service.sh installs into a temporary root with the units'
ExecStart pointed at the built programs; `systemd-analyze verify` then
loads every unit (the hub, an agency program's adapter instance, a generic
adapter instance) and must report nothing; `systemd-analyze security`
must rate each one's exposure low. A unit with a misspelt setting and one
that names a missing program must be caught by the same check, so the check
can fail. A second install changes nothing and keeps an operator's edits."""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD, ROOT

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.fixture(autouse=True)
def systemd_analyze():
    """systemd-analyze comes with the systemd package (deploy/install-deps.sh):
    missing, every test here fails rather than skips."""
    assert SYSTEMD_ANALYZE, "systemd-analyze missing: deploy/install-deps.sh installs systemd"

INSTALL = str(ROOT / "deploy" / "install-service.sh")
# the hub, an agency program (onenet-adapter-land) and the generic program
UNITS = ("onenet-hub.service", "onenet-adapter@land.service",
         "onenet-adapter-generic@market.service")


def install(root):
    return subprocess.run([INSTALL, "--root", str(root), "--bindir", str(BUILD),
                           "--adapters", "land,market"],
                          capture_output=True, text=True, check=True).stdout


def verify(paths):
    """systemd-analyze verify: (exit status, lines it printed about onenet units)."""
    r = subprocess.run([SYSTEMD_ANALYZE, "verify", *map(str, paths)],
                       capture_output=True, text=True)
    lines = [line for line in (r.stdout + r.stderr).splitlines() if "onenet" in line]
    return r.returncode, lines


@pytest.fixture
def staged(tmp_path):
    root = tmp_path / "root"
    install(root)
    return root


def unit_dir(root):
    return root / "etc" / "systemd" / "system"


def test_units_verify_clean_against_the_built_programs(staged):
    units = unit_dir(staged)
    text = (units / "onenet-hub.service").read_text()
    assert f"ExecStart={BUILD}/onenet-hub --config /etc/onenet/hub.conf" in text
    rc, lines = verify(units / u for u in UNITS)
    assert rc == 0 and lines == [], "\n".join(lines)


def test_verify_catches_a_misspelt_setting_and_a_missing_program(staged, tmp_path):
    units = unit_dir(staged)
    broken = tmp_path / "broken"
    broken.mkdir()
    hub = (units / "onenet-hub.service").read_text()
    (broken / "onenet-hub.service").write_text(
        hub.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    rc, lines = verify([broken / "onenet-hub.service"])
    assert any("NoNewPrivilege" in line for line in lines), lines
    shutil.copy(units / "onenet-adapter@.service", broken / "onenet-adapter@.service")
    rc, lines = verify([broken / "onenet-adapter@nosuchagency.service"])
    assert rc != 0 and any("onenet-adapter-nosuchagency" in line for line in lines), lines


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_hardened(staged, unit):
    units = unit_dir(staged)
    text = (units / unit.replace("@land", "@").replace("@market", "@")).read_text()
    for setting in ("User=onenet", "NoNewPrivileges=yes", "ProtectSystem=strict",
                    "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
                    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                    "SystemCallFilter=@system-service", "Restart=always",
                    "RestartPreventExitStatus=2"):
        assert setting in text, f"{unit}: {setting.strip()} missing"
    # exposure 0 (locked down) .. 10 (unsafe): at most 2.0
    r = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", "--threshold=20",
                        str(units / unit)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "Overall exposure level" in r.stdout


def test_adapters_may_write_only_their_state(staged):
    text = (unit_dir(staged) / "onenet-adapter@.service").read_text()
    assert "ReadWritePaths=/var/lib/onenet /var/spool/onenet" in text
    hub = (unit_dir(staged) / "onenet-hub.service").read_text()
    assert "ReadWritePaths" not in hub          # the hub keeps no files


def test_install_is_idempotent_and_keeps_edited_settings(staged):
    conf = staged / "etc" / "onenet" / "hub.conf"
    conf.write_text(conf.read_text().replace("hub-pengyang-1", "hub-edited"))
    before = {p: p.read_bytes() for p in staged.rglob("*") if p.is_file()}
    out = install(staged)
    assert "installed" not in out and "created" not in out, out
    after = {p: p.read_bytes() for p in staged.rglob("*") if p.is_file()}
    assert before == after
    assert "hub_id = hub-edited" in conf.read_text()


def test_installed_settings_and_directories(staged):
    etc = staged / "etc" / "onenet"
    land = (etc / "adapter-land.conf").read_text()
    assert "@AGENCY@" not in land
    assert "agency = land" in land and "outbox = /var/lib/onenet/land.outbox" in land
    assert "secret_key = /etc/onenet/keys/adapter-land.key" in land
    hub = (etc / "hub.conf").read_text()
    assert "secret_key = /etc/onenet/keys/hub.key" in hub
    assert "workflows = /etc/onenet/workflows" in hub
    assert sorted(p.name for p in (etc / "workflows").iterdir()) == \
        sorted(p.name for p in (ROOT / "workflows").glob("*.yaml"))
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)   # noqa: E731
    assert mode(etc) == 0o750 and mode(etc / "keys") == 0o750
    assert mode(etc / "hub.conf") == 0o640
    assert mode(staged / "var" / "spool" / "onenet" / "land") == 0o2770


def test_install_refuses_a_bad_agency_code(tmp_path):
    r = subprocess.run([INSTALL, "--root", str(tmp_path), "--adapters", "land,../x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and '"../x"' in r.stderr
    assert not (tmp_path / "etc").exists()
