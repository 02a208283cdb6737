"""A wandb-compatible shim for dlphys program runs (stdlib only, Python 3.8+).

The dlphys agent puts agent/wandb_shim first on PYTHONPATH, so a train.py written for Weights &
Biases (wandb.init / wandb.config / wandb.log / wandb.summary) runs unchanged and writes into the
run folder $DLPHYS_RUN_DIR: metrics.jsonl (one row per committed step), wandb-summary.json and
config.json. Everything else W&B offers is a no-op that warns once. See ../README.md.
"""
import atexit
import json
import math
import os
import sys
import threading
import time
import types
from collections.abc import Mapping

__version__ = "0.0.0+dlphys-shim"

errors = types.ModuleType("wandb.errors")  # `import wandb.errors` / `from wandb.errors import Error` work


class Error(Exception):
    """Base class of the errors this shim raises, as wandb.errors.Error."""


UsageError, CommError, ConfigError = (type(n, (Error,), {}) for n in ("UsageError", "CommError", "ConfigError"))
for _cls in (Error, UsageError, CommError, ConfigError):
    setattr(errors, _cls.__name__, _cls)
sys.modules["wandb.errors"] = errors

_warned = set()
_state = {"cleared": False}  # hand-run folder emptied once per process
SUMMARY_EVERY = 1.0  # seconds between summary rewrites driven by log (explicit sets write at once)


def _warn(message, once=None):
    if once is not None:
        if once in _warned:
            return
        _warned.add(once)
    sys.stderr.write("wandb shim: " + message + "\n")
    sys.stderr.flush()


def _unsupported(name):
    _warn("wandb.%s is not supported by dlphys; ignored" % name, "unsupported:" + name)


def _write_json(path, value):
    """Writes value as JSON to path atomically (a temp file, then os.replace)."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)


def _to_dict(params, include=None, exclude=None):
    """A config given as a dict, an argparse.Namespace (anything with __dict__) or None."""
    if params is None:
        d = {}
    elif isinstance(params, Mapping):
        d = dict(params)
    elif hasattr(params, "__dict__"):
        d = dict(vars(params))
    else:
        raise TypeError("config must be a dict or have a __dict__ attribute.")
    if include:
        d = {k: v for k, v in d.items() if k in include}
    if exclude:
        d = {k: v for k, v in d.items() if k not in exclude}
    return {k.strip("-"): v for k, v in d.items()}


def _merge(a, b):
    """b merged into a, recursively for dict values (W&B's merge of sweep values)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def _number(v):
    """v as a finite int or float, or None: bools, strings, media, lists, None, NaN and inf are not numbers."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    try:  # numpy / torch scalars have .item(); Decimal, Fraction and the like __float__
        x = v.item() if callable(getattr(v, "item", None)) else float(v) if hasattr(type(v), "__float__") else None
    except Exception:
        return None
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    return float(x) if ok else None


class _AttrDict(dict):
    """A dict whose keys read as attributes too; _on_change is called when it changes."""

    __slots__ = ("_on_change",)

    def __getattr__(self, key):
        if key.startswith("_") or key not in self:
            raise AttributeError("%r object has no attribute %r" % (type(self).__name__, key))
        return self[key]


class Config(_AttrDict):
    """wandb.config: a dict with attribute access; the sweep's keys are locked, as in W&B."""

    __slots__ = ("_locked",)

    def __init__(self, items=None):
        dict.__init__(self, items or {})
        object.__setattr__(self, "_locked", set())
        object.__setattr__(self, "_on_change", None)

    def update(self, d, allow_val_change=None):
        d = _to_dict(d)
        for k in [k for k in d if k in self._locked]:
            _warn("Config item '%s' was locked by 'sweep' (ignored update)." % k)
            del d[k]
        for k, v in d.items():
            if not allow_val_change and k in self and self[k] != v:
                raise ConfigError('Attempted to change value of key "%s" from %s to %s\nIf you really want to do'
                                  " this, pass allow_val_change=True to config.update()" % (k, self[k], v))
        dict.update(self, d)
        if d and self._on_change:
            self._on_change()

    def setdefaults(self, d):
        self.update({k: v for k, v in _to_dict(d).items() if k not in self})

    def __setitem__(self, key, value):
        self.update({key: value})

    __setattr__ = __setitem__

    def as_dict(self):
        return dict(self)


class Summary(_AttrDict):
    """wandb.summary: the last logged value of each key, overridden by explicit sets (in time order)."""

    __slots__ = ("_explicit",)

    def __init__(self, on_change=None):
        dict.__init__(self)
        object.__setattr__(self, "_on_change", on_change)
        # Keys set by the program since they were last logged: the agent takes these from the file,
        # the rest from metrics.jsonl (the file is rewritten at most once a second while logging).
        object.__setattr__(self, "_explicit", set())

    def _changed(self):
        if self._on_change:
            self._on_change(True)

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        self._explicit.add(str(key))
        self._changed()

    __setattr__ = __setitem__

    def update(self, d=(), **kw):
        d = dict(d, **kw)
        dict.update(self, d)
        self._explicit.update(str(k) for k in d)
        self._changed()

    def _file(self):
        return dict(self, _dlphys_explicit=sorted(self._explicit))


class Run(object):
    """One run, writing into the dlphys run folder (or ./wandb-shim-run/ when run by hand)."""

    def __init__(self, kw, base_config):
        self._lock = threading.RLock()
        self._finished = False
        self._pid = os.getpid()
        self.dir = os.environ.get("DLPHYS_RUN_DIR")
        if not self.dir:
            self.dir = os.path.abspath("wandb-shim-run")
            _warn("DLPHYS_RUN_DIR is not set (not run by a dlphys agent); writing into %s/" % self.dir, "hand")
            if not _state["cleared"]:  # a fresh folder for this process's first run
                _state["cleared"] = True
                for name in ("metrics.jsonl", "config.json", "wandb-summary.json"):
                    if os.path.exists(os.path.join(self.dir, name)):
                        os.remove(os.path.join(self.dir, name))
        os.makedirs(self.dir, exist_ok=True)
        self.id = os.environ.get("WANDB_RUN_ID") or kw.get("id") or "local"
        self.name = os.environ.get("WANDB_RUN_ID") or kw.get("name") or self.id
        self.project = kw.get("project") or os.environ.get("WANDB_PROJECT") or "uncategorized"
        self.sweep_id = os.environ.get("WANDB_SWEEP_ID") or os.environ.get("DLPHYS_SWEEP") or None
        self.url = None
        for key in ("entity", "group", "notes", "job_type", "tags"):
            setattr(self, key, kw.get(key))
        self._t0 = time.monotonic()
        self._step = 0
        self._pending = {}
        self._summary_written = 0.0
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self._fd = os.open(os.path.join(self.dir, "metrics.jsonl"), flags, 0o644)
        self.summary = Summary(self._summary_changed)
        cfg = Config(base_config)
        init_config = _to_dict(kw.get("config"), kw.get("config_include_keys"), kw.get("config_exclude_keys"))
        cfg.update(init_config, allow_val_change=True)
        raw = os.environ.get("DLPHYS_PARAMS_JSON")
        if raw:  # the sweep's values override the init config and are locked, as in a W&B sweep
            try:
                params = json.loads(raw)
            except ValueError as e:
                raise Error("DLPHYS_PARAMS_JSON is not valid JSON: %s" % e) from None
            if not isinstance(params, dict):
                raise Error("DLPHYS_PARAMS_JSON is not a JSON object")
            dict.update(cfg, _merge(cfg, params))
            cfg._locked.update(params)
        object.__setattr__(cfg, "_on_change", self._write_config)
        self.config = cfg
        self._write_config()

    @property
    def step(self):
        return self._step

    def _write_config(self):
        path = os.path.join(self.dir, "config.json")
        try:
            with open(path, encoding="utf-8") as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        old = old if isinstance(old, dict) else {}
        new = dict(old, **self.config)
        if "provenance" in old:
            new["provenance"] = old["provenance"]
        _write_json(path, new)

    def _summary_changed(self, explicit):
        now = time.monotonic()
        if explicit or now - self._summary_written >= SUMMARY_EVERY:
            self._summary_written = now
            _write_json(os.path.join(self.dir, "wandb-summary.json"), self.summary._file())

    def _flatten(self, data, prefix, out):
        for k, v in data.items():
            key = prefix + str(k)
            if isinstance(v, Mapping):
                self._flatten(v, key + ".", out)
            elif key in ("step", "time"):
                _warn('"%s" is a field of every metrics.jsonl row; the logged value is dropped' % key, "res:" + key)
            else:
                x = _number(v)
                if x is None:
                    what = type(v).__name__ if not isinstance(v, float) else "non-finite %r" % v
                    _warn('dropping non-numeric value of "%s" (%s)' % (key, what), "drop:" + key)
                else:
                    out[key] = x
        return out

    def _commit(self):
        """Writes the pending row (if any number is in it) at the current step, in one write."""
        row, self._pending = self._pending, {}
        if not row:
            return
        line = {"step": self._step, "time": round(time.monotonic() - self._t0, 6)}
        line.update(row)
        data = (json.dumps(line, allow_nan=False) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self._fd, data):]
        dict.update(self.summary, row)
        self.summary._explicit.difference_update(row)
        self._summary_changed(False)

    def log(self, data, step=None, commit=None):
        """W&B's log: rows are keyed by step; see README.md for the step/commit rules."""
        if not isinstance(data, Mapping):
            raise TypeError("wandb.log must be passed a dictionary")
        if any(not isinstance(k, str) for k in data):
            raise TypeError("Key values passed to `wandb.log` must be strings.")
        with self._lock:
            if self._finished:
                raise UsageError("Run (%s) is finished. The call to `log` will be ignored." % self.id)
            if step is not None:
                step = int(step)
                if step > self._step:
                    self._commit()
                    self._step = step
                elif step < self._step:
                    _warn("Tried to log to step %d that is less than the current step %d. Steps must be"
                          " monotonically increasing, so this data will be ignored." % (step, self._step))
                    return
            self._flatten(data, "", self._pending)
            if commit if commit is not None else step is None:
                self._commit()
                self._step += 1

    def finish(self, exit_code=None, quiet=None):
        with self._lock:
            if self._finished:
                return
            self._finished = True
            if os.getpid() == self._pid:  # a forked child leaves the parent's files alone
                self._commit()
                _write_json(os.path.join(self.dir, "wandb-summary.json"), self.summary._file())
                os.close(self._fd)
        if run is self:
            _unset_globals()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.finish(exit_code=0 if exc_type is None else 1)
        return False


def _noop(name, result=None):
    def method(*args, **kwargs):
        _unsupported(name)
        return result
    method.__name__ = name
    return method


_NOOPS = ("define_metric", "watch", "unwatch", "save", "restore", "log_artifact", "use_artifact",
          "log_code", "log_model", "use_model", "link_model", "alert", "mark_preempting")
for _name in _NOOPS:
    globals()[_name] = _noop(_name)
    setattr(Run, _name, (lambda f: lambda self, *a, **k: f(*a, **k))(_noop(_name)))
login = _noop("login", True)
Run._label = lambda self, *args, **kwargs: None  # integrations (transformers' WandbCallback) tag runs with it


class _Unsupported(object):
    """A W&B object dlphys does not record: constructible with anything, every method a no-op."""

    def __init__(self, *args, **kwargs):
        _unsupported(type(self).__name__)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


for _name in ("Table", "Image", "Histogram", "Artifact", "Settings", "Video", "Audio", "Html", "Object3D"):
    globals()[_name] = type(_name, (_Unsupported,), {"__module__": __name__})


class _Plot(object):
    """wandb.plot: every chart function is a no-op returning None."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _noop("plot." + name)


plot = _Plot()
sys.modules["wandb.plot"] = plot


def _preinit_log(*args, **kwargs):
    raise Error("You must call wandb.init() before wandb.log()")


run = None
config = Config()
summary = Summary()
log = _preinit_log


def _unset_globals():
    global run, config, summary, log
    run, config, summary, log = None, Config(), Summary(), _preinit_log


def init(entity=None, project=None, **kw):
    """Starts the run; W&B's other keyword arguments are accepted and ignored (see README.md)."""
    global run, config, summary, log
    kw.update(entity=entity, project=project)
    if run is not None:
        if kw.get("reinit") not in (True, "finish_previous", "create_new"):
            return run  # W&B's default outside notebooks: "return_previous"
        run.finish()
    new = Run(kw, config)
    run, config, summary, log = new, new.config, new.summary, new.log
    return new


def finish(exit_code=None, quiet=None):
    if run is not None:
        run.finish(exit_code)


def _finish_at_exit():
    if run is not None:
        run.finish()


atexit.register(_finish_at_exit)


def termlog(string="", newline=True, repeat=True, prefix=True):
    """W&B's terminal messages (used by integrations): written to stderr, which goes to train.log."""
    sys.stderr.write(("wandb: " if prefix else "") + str(string) + ("\n" if newline else ""))


termwarn = termerror = termlog


def __getattr__(name):
    """Any other wandb attribute (PEP 562): a no-op callable with one warning, so a script or an
    integration that touches a part of W&B the shim does not cover keeps running."""
    if name.startswith("__"):
        raise AttributeError(name)
    return _noop(name)
