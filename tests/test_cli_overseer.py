from ida.experience import ExperienceDB
from ida.transcript import read_transcript


def test_fix_weights_from_an_empty_database(cli, tmp_path):
    r = cli("fix", "weights", "--seed", "2", "--db", "exp.sqlite", "--overseer", "oracle")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fixed after 2 round(s), 3 database edit(s)" in r.stdout
    db = ExperienceDB(tmp_path / "exp.sqlite")
    assert {e.key for e in db.entries()} == {"lime", "apricot", "fig"}
    assert all(e.provenance.run_id and e.provenance.node_id for e in db.entries())
    again = cli("fix", "weights", "--seed", "2", "--db", "exp.sqlite", "--overseer", "oracle")
    assert "fixed after 1 round(s), 0 database edit(s)" in again.stdout


def test_backward_dry_run_then_apply(cli, tmp_path):
    assert cli("run", "weights", "--seed", "2", "--db", "exp.sqlite", "--out", "w.jsonl").returncode == 0
    dry = cli("backward", "w.jsonl", "--target", "150", "--overseer", "oracle", "--db", "exp.sqlite")
    assert dry.returncode == 0 and "dry run" in dry.stdout
    assert ExperienceDB(tmp_path / "exp.sqlite").revision == 0
    real = cli("backward", "w.jsonl", "--target", "150", "--overseer", "oracle", "--db", "exp.sqlite", "--apply")
    assert real.returncode == 0 and real.stdout.count("committed") == 3
    assert ExperienceDB(tmp_path / "exp.sqlite").revision == 3


def test_backward_rules_on_an_honest_tree_blame_nobody(cli, tmp_path):
    """A wrong target for a tree that computed right: the rules walk down and find it unreachable."""
    assert cli("run", "length", "--seed", "0", "--out", "l.jsonl").returncode == 0
    root = read_transcript(tmp_path / "l.jsonl")[1][0].model_dump()
    wrong = str(int(root["answer"]) + 1)
    r = cli("backward", "l.jsonl", "--target", wrong, "--overseer", "rules", "--apply")
    assert r.returncode == 0, r.stderr
    assert "6 nodes visited, 0 blamed, 1 unexplained" in r.stdout and "unreachable" in r.stdout
    assert not (tmp_path / "transcripts/corrections").exists()


def test_human_overseer_at_the_terminal(cli, tmp_path):
    assert cli("run", "weights", "--seed", "2", "--db", "empty.sqlite", "--out", "w.jsonl").returncode == 0
    typed = "target 3 50\ndone\nadd fig: a fig weighs 50 grams\ndone\n"
    r = cli("backward", "w.jsonl", "--target", "150", "--overseer", "human", "--db", "empty.sqlite", "--apply",
            input=typed)
    assert r.returncode == 0, r.stderr
    assert "blame>" in r.stdout and "committed e1 fig: a fig weighs 50 grams" in r.stdout


def test_overseer_mistakes_are_one_line(cli, tmp_path):
    assert cli("run", "length", "--out", "l.jsonl").returncode == 0
    r = cli("backward", "l.jsonl", "--target", "3", "--overseer", "wizard")
    assert r.returncode == 2 and "unknown overseer" in r.stderr and "Traceback" not in r.stderr
    r = cli("fix", "length", "--max-steps", "0")
    assert r.returncode == 2 and "--max-steps" in r.stderr
