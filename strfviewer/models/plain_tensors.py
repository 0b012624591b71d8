"""Whether tensors are ordinary CPU tensors: the condition for the CPU-only fast paths (the step-by-step scans of
:mod:`strfviewer.models.ssm`, the STRF product of :mod:`strfviewer.models.strf_product`).

Inside a functorch transform (``torch.func.vjp`` / ``vmap`` of the factored gradmaps) or under autograd's
``is_grads_batched`` the tensors are wrapped or batched: in-place writes into a fresh tensor are refused or
mis-batched there, and vectorised rules exist for the plain operators (``conv2d``, the blocked scans) that those
paths replace.
"""

from __future__ import annotations

import torch


def plain_cpu(*tensors: torch.Tensor) -> bool:
    """True for ordinary CPU tensors, not wrapped by a functorch transform nor batched by autograd's
    ``is_grads_batched``."""
    functorch = getattr(torch._C, "_functorch", None)
    checks = [getattr(functorch, name, None) for name in
              ("is_functorch_wrapped_tensor", "is_batchedtensor", "is_legacy_batchedtensor")]
    return all(t.device.type == "cpu" and not any(check(t) for check in checks if check is not None)
               for t in tensors)
