"""What the demos' closing books read from their output folder (scripts/demo.sh and
scripts/demo-monitors.sh import it): run summaries, the documents the sinks wrote, and the
exit status each component left."""
import glob
import json
import os


class Folder:
    def __init__(self, out):
        self.out = out

    def load(self, name):
        """A JSON file (a --summary-json), or None when it is missing or unreadable."""
        try:
            with open(os.path.join(self.out, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def docs(self, pattern):
        """Every document in the files matching `pattern`: NDJSON lines, or one JSON per file."""
        found = []
        for path in sorted(glob.glob(os.path.join(self.out, pattern))):
            with open(path) as f:
                if path.endswith(".ndjson"):
                    found += [json.loads(line) for line in f if line.strip()]
                else:
                    found.append(json.load(f))
        return found

    def rc(self, name):
        """The exit status demo_stop wrote for a component, "?" when none."""
        try:
            with open(os.path.join(self.out, name + ".rc")) as f:
                return f.read().strip()
        except OSError:
            return "?"
