"""tests/import_cycles.py: src/ has no import cycles, and the check finds one."""
import importlib.util
import pathlib
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("import_cycles", HERE / "import_cycles.py")
import_cycles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_cycles)


class ImportCycles(unittest.TestCase):
    def test_src_has_no_cycle_between_its_modules(self):
        edges = import_cycles.graph(HERE.parent / "src")
        self.assertIn("config", edges)
        self.assertEqual(import_cycles.cycles(edges), [])

    def test_a_cycle_through_a_use_group_is_found_and_comments_are_not_imports(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp)
            (src / "config").mkdir()
            (src / "config" / "mod.rs").write_text("use crate::inputs::INPUT_TYPES;\n")
            (src / "inputs.rs").write_text("use crate::{fields::Fields, config};\n")
            (src / "fields.rs").write_text("//! see [`crate::config`]\n")
            edges = import_cycles.graph(src)
            self.assertEqual(edges["fields"], set())
            self.assertEqual(import_cycles.cycles(edges), [["config", "inputs"]])


if __name__ == "__main__":
    unittest.main()
