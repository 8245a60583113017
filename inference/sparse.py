"""A fixed sparse linear map with a cheap backward: for fits whose samples never move (a LUT
read at the same colours, a gain grid read at the same pixels), the interpolation weights are
worked out once and every step is a sparse product, both ways."""
from __future__ import annotations

import warnings

import torch


class _Apply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table, matrix, transposed):
        ctx.transposed = transposed
        return matrix @ table

    @staticmethod
    def backward(ctx, grad):
        return ctx.transposed @ grad, None, None


class SparseMap:
    """rows/cols/weights of an [N, M] matrix A; __call__(table [M, C]) = A @ table."""

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor, weights: torch.Tensor, shape: tuple[int, int]):
        matrix = torch.sparse_coo_tensor(torch.stack([rows, cols]), weights.float(), shape,
                                         check_invariants=False).coalesce()
        with warnings.catch_warnings():  # CSR is "beta" in torch; it is what makes the product fast
            warnings.simplefilter("ignore", UserWarning)
            self.matrix = matrix.to_sparse_csr()
            self.transposed = matrix.t().coalesce().to_sparse_csr()

    def to(self, device) -> "SparseMap":
        self.matrix, self.transposed = self.matrix.to(device), self.transposed.to(device)
        return self

    def __call__(self, table: torch.Tensor) -> torch.Tensor:
        return _Apply.apply(table, self.matrix, self.transposed)
