"""hubctl's manual page and bash completion (deploy/hubctl/): both name
every command `hubctl --help` lists and nothing else, the page renders with
groff's warnings on and no complaint, the completion completes commands and
a command's own options, and the install script puts both where man and
bash-completion look."""
import re
import subprocess

from conftest import BUILD, ROOT

PAGE = ROOT / "deploy" / "hubctl" / "hubctl.1"
COMPLETION = ROOT / "deploy" / "hubctl" / "hubctl.bash"


def commands_in_help():
    out = subprocess.run([str(BUILD / "hubctl"), "--help"], capture_output=True, text=True,
                         check=True).stdout
    block = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return sorted(line.split()[0] for line in block.splitlines() if line.strip())


def test_manual_page_names_every_command_and_renders():
    page = PAGE.read_text(encoding="utf-8")
    named = sorted(set(re.findall(r"^\.TP\n\.B ([a-z]+)$", page, flags=re.M)))
    assert named == commands_in_help()
    r = subprocess.run(["groff", "-man", "-ww", "-z", str(PAGE)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = subprocess.run(["groff", "-man", "-Tutf8", str(PAGE)], capture_output=True,
                          text=True, check=True).stdout
    text = re.sub(".\b", "", text)  # overstrike (bold, underline) as plain text
    assert "EXIT STATUS" in text and "--vocabulary" in text.replace("‐", "-")


def complete(line):
    """What the completion offers for the command line LINE (cursor at the end)."""
    words = line.split(" ")
    script = (f'PATH={BUILD}:$PATH; source {COMPLETION}; '
              f'COMP_WORDS=({" ".join(repr(w) for w in words)}); '
              f'COMP_CWORD={len(words) - 1}; _hubctl; printf "%s\\n" "${{COMPREPLY[@]}}"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return sorted(x for x in out.stdout.split("\n") if x)


def test_completion_completes_commands_and_their_options():
    source = COMPLETION.read_text(encoding="utf-8")
    listed = sorted(re.search(r'commands="([^"]*)"', source).group(1).split())
    assert listed == commands_in_help()
    assert complete("hubctl wo") == ["workflows"]
    assert complete("hubctl --db x de") == ["deadletters"]
    assert "--agency" in complete("hubctl overdue --") and "--limit" in complete(
        "hubctl overdue --")
    assert complete("hubctl --js") == ["--json"]


def test_install_puts_them_where_man_and_bash_look(tmp_path):
    root = tmp_path / "root"
    subprocess.run([str(ROOT / "deploy" / "install-service.sh"), "--root", str(root),
                    "--bindir", str(BUILD), "--adapters", "land"], capture_output=True,
                   text=True, check=True)
    assert (root / "usr/local/share/man/man1/hubctl.1").read_bytes() == PAGE.read_bytes()
    assert (root / "usr/local/share/bash-completion/completions/hubctl").read_bytes() == \
        COMPLETION.read_bytes()
