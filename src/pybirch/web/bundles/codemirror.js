// Entry of the CodeMirror 6 browser bundle (scripts/bootstrap.sh builds it with esbuild into
// static/vendor/codemirror.iife.js): the editor, Python highlighting and the lint markers the
// definition editor uses, as one global, window.PyBirchCodeMirror.
import { EditorView, basicSetup } from "codemirror";
import { python } from "@codemirror/lang-python";
import { forceLinting, linter, lintGutter } from "@codemirror/lint";

export { EditorView, basicSetup, forceLinting, python, linter, lintGutter };
