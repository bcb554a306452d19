"""OnnxModel: one ONNX Runtime session with typed inputs, validation and batch prediction."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conduit.framework.errors import InferenceError, ValidationError
from conduit_onnx.providers import GPU_PROVIDERS
from conduit_onnx.session import SPINNING_ENTRIES

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["OnnxModel", "TensorSpec"]

logger = logging.getLogger("conduit.onnx")

_NUMPY_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: name, numpy dtype name, shape (str/None = dynamic axis)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...]
    onnx_type: str

    @property
    def is_tensor(self) -> bool:
        return self.onnx_type.startswith("tensor(")

    @property
    def row_shape(self) -> tuple[int | str | None, ...]:
        """The shape of one sample: the shape without its leading batch axis."""
        return self.shape[1:]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_node_arg(cls, arg: Any) -> TensorSpec:
        shape = tuple(dim if isinstance(dim, int) else (dim or None) for dim in (arg.shape or ()))
        return cls(name=arg.name, dtype=_NUMPY_DTYPES.get(arg.type, arg.type), shape=shape, onnx_type=arg.type)


def _coerce(spec: TensorSpec, value: Any, *, batched: bool) -> np.ndarray:
    """``value`` as an array of the input's dtype, checked against its fixed dimensions."""
    import numpy as np

    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            f"input {spec.name!r} is not a rectangular array",
            f"rows must all have the same length ({exc})",
        ) from exc
    if arr.dtype == object:
        raise ValidationError(
            f"input {spec.name!r} is not a rectangular array of numbers",
            "rows have different lengths or mix numbers with other values",
        )
    if spec.dtype != "str":
        if arr.dtype.kind not in "biuf":
            got = "strings" if arr.dtype.kind in "US" else str(arr.dtype)
            raise ValidationError(f"input {spec.name!r} must hold numbers ({spec.dtype})", f"got {got}")
        target = np.dtype(spec.dtype)
        if target.kind in "iu" and arr.dtype.kind == "f" and not np.all(np.mod(arr, 1) == 0):
            raise ValidationError(f"input {spec.name!r} must hold integers ({spec.dtype})", "got fractional numbers")
        arr = arr.astype(target, copy=False)
    else:
        arr = arr.astype(object)
    want = spec.shape if batched else spec.row_shape
    if spec.shape and arr.ndim != len(want):
        raise ValidationError(
            f"input {spec.name!r} has the wrong number of dimensions",
            f"expected {len(want)} ({_describe(want)}), got {arr.ndim} (shape {list(arr.shape)})",
        )
    offset = 0 if batched else 1
    for axis, (dim, size) in enumerate(zip(want, arr.shape), start=offset):
        if isinstance(dim, int) and dim != size:
            raise ValidationError(
                f"input {spec.name!r} has the wrong shape",
                f"axis {axis} of {_describe(spec.shape)} must have {dim} values, got {size}",
            )
        if size == 0:
            raise ValidationError(f"input {spec.name!r} is empty", f"axis {axis} of {_describe(spec.shape)} has no values")
    return arr


def _describe(shape: Sequence[int | str | None]) -> str:
    return "shape [" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"


class OnnxModel:
    """A loaded ONNX model. Build it with :func:`conduit_onnx.load_onnx_model`.

    ``predict(x)`` takes one sample (a row without the batch axis) or a batch, as lists or
    numpy arrays, and answers in kind: lists for lists, arrays for arrays. Multi-input
    models take a mapping ``{input_name: value}``. ``output`` picks the answered output
    (default: the first); :meth:`run` returns them all.
    """

    def __init__(
        self,
        session: Any,
        *,
        name: str = "model",
        device_id: int = 0,
        output: str | None = None,
        io_binding: bool | None = None,
    ) -> None:
        self._session = session
        self.name = name
        self.device_id = device_id
        self.inputs: list[TensorSpec] = [TensorSpec.from_node_arg(a) for a in session.get_inputs()]
        self.outputs: list[TensorSpec] = [TensorSpec.from_node_arg(a) for a in session.get_outputs()]
        self._output_names = [o.name for o in self.outputs]
        if output is not None and output not in self._output_names:
            raise ValidationError(
                f"model {name!r} has no output {output!r}", f"its outputs are {', '.join(self._output_names)}"
            )
        self.output = output or self._output_names[0]
        self.providers: list[str] = list(session.get_providers())
        all_tensors = all(o.is_tensor for o in self.outputs)
        self.io_binding = self.uses_gpu and all_tensors if io_binding is None else bool(io_binding)
        if self.io_binding and not self.uses_gpu:
            raise ValidationError("io_binding=True needs a GPU provider", f"the session runs on {self.providers}")

    # --- description --------------------------------------------------------------

    @property
    def uses_gpu(self) -> bool:
        """True when the session really runs on TensorRT or CUDA."""
        return any(p in GPU_PROVIDERS for p in self.providers)

    @property
    def device(self) -> str:
        return f"cuda:{self.device_id}" if self.uses_gpu else "cpu"

    @property
    def allow_spinning(self) -> bool | None:
        """Whether the session's pool threads busy-wait (``session.intra_op.allow_spinning``);
        ``None`` when the session leaves ONNX Runtime's default (spinning)."""
        try:
            value = self._session.get_session_options().get_session_config_entry(SPINNING_ENTRIES[0])
        except Exception:  # noqa: BLE001 - onnxruntime raises when the entry was never set
            return None
        return value != "0"

    @property
    def session(self) -> Any:
        """The underlying ``onnxruntime.InferenceSession``."""
        return self._session

    def metadata(self) -> dict[str, Any]:
        """Inputs, outputs, providers, device and the model's own metadata, JSON-ready."""
        meta = self._session.get_modelmeta()
        return {
            "name": self.name,
            "inputs": [i.to_dict() for i in self.inputs],
            "outputs": [o.to_dict() for o in self.outputs],
            "providers": list(self.providers),
            "device": self.device,
            "allow_spinning": self.allow_spinning,
            "producer": meta.producer_name,
            "graph": meta.graph_name,
            "version": meta.version,
            "custom": dict(meta.custom_metadata_map),
        }

    def __repr__(self) -> str:
        return f"OnnxModel({self.name!r}, device={self.device!r}, inputs={[i.name for i in self.inputs]})"

    # --- running ------------------------------------------------------------------

    def run(self, feeds: Mapping[str, Any], outputs: Sequence[str] | None = None) -> dict[str, Any]:
        """Run one batch: ``feeds`` maps every input name to a batched value; returns every output."""
        arrays = self._feeds(feeds, batched=True)
        names = list(outputs) if outputs is not None else self._output_names
        return dict(zip(names, self._run(arrays, names)))

    def _feeds(self, feeds: Mapping[str, Any], *, batched: bool) -> dict[str, np.ndarray]:
        missing = [i.name for i in self.inputs if i.name not in feeds]
        extra = [k for k in feeds if k not in {i.name for i in self.inputs}]
        if missing or extra:
            raise ValidationError(
                f"model {self.name!r} takes inputs {', '.join(i.name for i in self.inputs)}",
                (f"missing: {', '.join(missing)}. " if missing else "") + (f"unknown: {', '.join(extra)}" if extra else ""),
            )
        return {i.name: _coerce(i, feeds[i.name], batched=batched) for i in self.inputs}

    def _run(self, arrays: dict[str, np.ndarray], names: list[str]) -> list[Any]:
        from conduit.telemetry import span

        first = next(iter(arrays.values()), None)
        attributes = {
            "model": self.name,
            "batch_size": int(first.shape[0]) if first is not None and first.ndim else 1,
            "device": self.device,
            "provider": self.providers[0] if self.providers else "",
        }
        with span("onnx.inference", attributes):
            try:
                if self.io_binding:
                    return self._run_bound(arrays, names)
                return list(self._session.run(names, arrays))
            except Exception as exc:  # onnxruntime's own exception types
                raise InferenceError(f"model {self.name!r} failed to run", f"{type(exc).__name__}: {exc}") from exc

    def _run_bound(self, arrays: dict[str, np.ndarray], names: list[str]) -> list[Any]:
        import numpy as np

        binding = self._session.io_binding()
        for name, arr in arrays.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(arr))
        for name in names:
            binding.bind_output(name, "cuda", self.device_id)
        self._session.run_with_iobinding(binding)
        return list(binding.copy_outputs_to_cpu())

    def _single_input(self) -> TensorSpec:
        if len(self.inputs) != 1:
            raise ValidationError(
                f"model {self.name!r} takes {len(self.inputs)} inputs",
                f"pass a mapping {{name: value}} with {', '.join(i.name for i in self.inputs)}",
            )
        return self.inputs[0]

    def _is_one_sample(self, spec: TensorSpec, value: Any) -> bool:
        import numpy as np

        if not spec.shape:
            return False
        try:
            ndim = np.ndim(value)
        except ValueError:  # ragged: let _coerce explain
            return False
        return ndim == len(spec.shape) - 1

    def validate_input(self, x: Any) -> Any:
        """Check one sample (or a mapping of them) against the inputs; raise ValidationError (422)."""
        if isinstance(x, Mapping):
            self._feeds(x, batched=False)
        else:
            _coerce(self._single_input(), x, batched=False)
        return x

    def predict(self, x: Any, output: str | None = None) -> Any:
        """Predict one sample or a batch; lists in give lists out, arrays in give arrays out."""
        import numpy as np

        name = output or self.output
        if isinstance(x, Mapping):
            first = next(iter(self.inputs))
            single = self._is_one_sample(first, x.get(first.name))
            as_numpy = any(isinstance(v, np.ndarray) for v in x.values())
            feeds = self._feeds(x, batched=not single)
        else:
            spec = self._single_input()
            single = self._is_one_sample(spec, x)
            as_numpy = isinstance(x, np.ndarray)
            feeds = {spec.name: _coerce(spec, x, batched=not single)}
        if single:
            feeds = {k: v[np.newaxis, ...] for k, v in feeds.items()}
        (result,) = self._run(feeds, [name])
        if single:
            result = result[0]
        return _plain(result) if not as_numpy else result

    def predict_batch(self, rows: Sequence[Any], output: str | None = None) -> list[Any]:
        """Predict many samples in one run; returns one answer per row, in order."""
        import numpy as np

        if not rows:
            return []
        name = output or self.output
        as_numpy = any(isinstance(r, np.ndarray) for r in rows)
        if isinstance(rows[0], Mapping):
            columns = {i.name: [r.get(i.name) if isinstance(r, Mapping) else None for r in rows] for i in self.inputs}
            feeds = self._feeds(columns, batched=True)
        else:
            spec = self._single_input()
            feeds = {spec.name: _coerce(spec, list(rows), batched=True)}
        (result,) = self._run(feeds, [name])
        if as_numpy:
            return list(result)
        return [_plain(r) for r in result]

    __call__ = predict

    def warmup(self, runs: int = 1) -> None:
        """Run a batch of one dummy sample (zeros; dynamic axes of size 1) ``runs`` times."""
        import numpy as np

        feeds: dict[str, Any] = {}
        for spec in self.inputs:
            shape = tuple(d if isinstance(d, int) and d > 0 else 1 for d in spec.shape) or (1,)
            dtype = object if spec.dtype == "str" else np.dtype(spec.dtype)
            feeds[spec.name] = np.full(shape, "", dtype=object) if dtype is object else np.zeros(shape, dtype)
        for _ in range(runs):
            try:
                self._run(feeds, self._output_names)
            except InferenceError as exc:
                logger.warning("warm-up of model %r skipped: dummy input rejected (%s)", self.name, exc.detail)
                return


def _plain(value: Any) -> Any:
    """numpy values as plain Python (for JSON); other values unchanged."""
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist is not None else value

