"""Whether tensors are ordinary CPU tensors: the condition for the CPU-only fast paths (the step-by-step scans of
:mod:`strfviewer.models.ssm`, the STRF product of :mod:`strfviewer.models.strf_product`).

Inside a functorch transform (``torch.func.vjp`` / ``vmap`` of the factored gradmaps) or under autograd's
``is_grads_batched`` the tensors are wrapped or batched: in-place writes into a fresh tensor are refused or
mis-batched there, and vectorised rules exist for the plain operators (``conv2d``, the blocked scans) that those
paths replace.
"""

from __future__ import annotations

import torch


_FUNCTORCH = getattr(torch._C, "_functorch", None)
#: torch's tests for a tensor batched by ``is_grads_batched`` / wrapped or batched by a functorch transform (those
#: this torch build has), looked up once: the fast paths ask at every forward step
_LEGACY_BATCHED = getattr(_FUNCTORCH, "is_legacy_batchedtensor", None)
_WRAPPED = [check for check in (getattr(_FUNCTORCH, name, None) for name in
                                ("is_functorch_wrapped_tensor", "is_batchedtensor", "is_legacy_batchedtensor"))
            if check is not None]


def plain_cpu(*tensors: torch.Tensor) -> bool:
    """True for ordinary CPU tensors, not wrapped by a functorch transform nor batched by autograd's
    ``is_grads_batched``."""
    return all(t.device.type == "cpu" and not any(check(t) for check in _WRAPPED) for t in tensors)


def legacy_batched(*tensors: torch.Tensor) -> bool:
    """True when one of ``tensors`` is batched by autograd's ``is_grads_batched`` (a legacy batched tensor, which
    has no batching rule for some operators, ``einsum`` among them)."""
    return _LEGACY_BATCHED is not None and any(_LEGACY_BATCHED(t) for t in tensors)
