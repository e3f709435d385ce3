"""A paged KV-cache allocator: block tables and copy-on-write, as in vLLM.

Instead of reserving one contiguous slab of ``max_len`` tokens per sequence, the
cache is cut into fixed-size *blocks* of ``tokens_per_block`` tokens. Each
sequence owns a *block table* (a list of physical block ids), like the page
table of virtual memory; a sequence only ever wastes the unused tail of its last
block. Sequences that share a prefix (parallel samples of one prompt, beam
search) share its blocks, counted by a reference count, and a shared block is
copied only when one of them writes into it (*copy-on-write*).

This module does the bookkeeping only (which block holds which token); the
attention kernel would read keys and values through the block table.
"""

from __future__ import annotations

from fmref._validate import check_int, check_positive_int

__all__ = ["PagedKVAllocator"]


class PagedKVAllocator:
    """Block tables over a fixed pool of KV-cache blocks.

    Parameters
    ----------
    n_blocks : int
        Physical blocks in the pool.
    tokens_per_block : int
        Tokens per block (vLLM's ``block_size``; fmref keeps ``block_size`` for the
        context length).

    Attributes
    ----------
    block_tables : dict
        ``seq_id -> list`` of physical block ids, in token order.
    lengths : dict
        ``seq_id -> int`` tokens stored.
    ref_counts : list of int
        Sequences referencing each block.

    Raises
    ------
    ValueError
        If a size is not a positive int.

    References
    ----------
    .. [1] Kwon et al., "Efficient Memory Management for Large Language Model
       Serving with PagedAttention", SOSP 2023.

    Examples
    --------
    >>> from fmref.infer.paged import PagedKVAllocator
    >>> pool = PagedKVAllocator(n_blocks=8, tokens_per_block=4)
    >>> pool.allocate("a", n_tokens=6)  # a 6-token prompt needs 2 blocks
    [0, 1]
    >>> pool.fork("a", "b")  # a second sample shares the prompt's blocks
    >>> pool.ref_counts[:2]
    [2, 2]
    >>> pool.append("b")  # b writes token 7 into shared block 1: copy it first
    [(1, 2)]
    >>> pool.block_tables
    {'a': [0, 1], 'b': [0, 2]}
    >>> pool.free("a"); pool.free("b")
    >>> pool.n_free
    8
    """

    def __init__(self, n_blocks, tokens_per_block):
        for name, value in (("n_blocks", n_blocks), ("tokens_per_block", tokens_per_block)):
            check_positive_int(name, value)
        self.n_blocks, self.tokens_per_block = n_blocks, tokens_per_block
        self.free_blocks = list(range(n_blocks - 1, -1, -1))  # a stack: pop() gives 0 first
        self.ref_counts = [0] * n_blocks
        self.block_tables = {}
        self.lengths = {}

    # ------------------------------------------------------------------ queries
    @property
    def n_free(self):
        """Blocks not referenced by any sequence."""
        return len(self.free_blocks)

    def blocks_needed(self, n_tokens):
        """Blocks that hold ``n_tokens`` tokens, ``ceil(n_tokens / tokens_per_block)``."""
        return -(-n_tokens // self.tokens_per_block)

    def utilization(self):
        """Tokens stored / token slots in the blocks in use (1.0 when none is used).

        Shared blocks count once, with the tokens of one sequence.
        """
        used = self.n_blocks - self.n_free
        if used == 0:
            return 1.0
        filled = {}
        for seq_id, table in self.block_tables.items():
            for i, block in enumerate(table):
                n = min(self.tokens_per_block, self.lengths[seq_id] - i * self.tokens_per_block)
                filled[block] = max(filled.get(block, 0), n)
        return sum(filled.values()) / (used * self.tokens_per_block)

    def _check_seq(self, seq_id, exists=True):
        if exists and seq_id not in self.block_tables:
            raise ValueError(f"seq_id {seq_id!r} is not allocated")
        if not exists and seq_id in self.block_tables:
            raise ValueError(f"seq_id {seq_id!r} is already allocated")

    def _take(self, n):
        if n > self.n_free:
            raise MemoryError(f"out of KV blocks: need {n}, {self.n_free} free")
        blocks = [self.free_blocks.pop() for _ in range(n)]
        for b in blocks:
            self.ref_counts[b] = 1
        return blocks

    def _release(self, block):
        self.ref_counts[block] -= 1
        if self.ref_counts[block] == 0:
            self.free_blocks.append(block)

    # ------------------------------------------------------------------ updates
    def allocate(self, seq_id, n_tokens):
        """Give a new sequence blocks for ``n_tokens`` tokens; return its block table.

        Raises ``MemoryError`` when the pool has too few free blocks and
        ``ValueError`` if ``seq_id`` exists or ``n_tokens`` is negative.
        """
        self._check_seq(seq_id, exists=False)
        check_int("n_tokens", n_tokens, low=0)
        self.block_tables[seq_id] = self._take(self.blocks_needed(n_tokens))
        self.lengths[seq_id] = n_tokens
        return list(self.block_tables[seq_id])

    def append(self, seq_id, n_tokens=1):
        """Add ``n_tokens`` tokens to a sequence; return the block copies needed.

        A new block is taken when the last one is full. If the last block is
        shared with another sequence and partly filled, it is copied first
        (copy-on-write) and the pair ``(source, destination)`` is returned, so
        that the caller copies those keys and values.
        """
        self._check_seq(seq_id)
        check_positive_int("n_tokens", n_tokens)
        table, copies = self.block_tables[seq_id], []
        length = self.lengths[seq_id]
        if length % self.tokens_per_block and self.ref_counts[table[-1]] > 1:
            (new,) = self._take(1)  # copy-on-write of the shared, partly filled block
            copies.append((table[-1], new))
            self._release(table[-1])
            table[-1] = new
        extra = self.blocks_needed(length + n_tokens) - len(table)
        table += self._take(extra)
        self.lengths[seq_id] = length + n_tokens
        return copies

    def fork(self, parent, child):
        """Make ``child`` share all of ``parent``'s blocks (no copy yet)."""
        self._check_seq(parent)
        self._check_seq(child, exists=False)
        self.block_tables[child] = list(self.block_tables[parent])
        self.lengths[child] = self.lengths[parent]
        for block in self.block_tables[child]:
            self.ref_counts[block] += 1

    def free(self, seq_id):
        """Drop a sequence; blocks no other sequence references return to the pool."""
        self._check_seq(seq_id)
        for block in self.block_tables.pop(seq_id):
            self._release(block)
        del self.lengths[seq_id]

    def check(self):
        """Raise ``AssertionError`` unless reference counts match the block tables.

        Every block is either free (count 0, in the free list once) or referenced
        exactly ``ref_counts[b]`` times by the tables; each table holds exactly the
        blocks its length needs.
        """
        counts = [0] * self.n_blocks
        for seq_id, table in self.block_tables.items():
            assert len(table) == self.blocks_needed(self.lengths[seq_id]), seq_id
            assert len(set(table)) == len(table), f"{seq_id} holds a block twice"
            for block in table:
                counts[block] += 1
        assert counts == self.ref_counts, "reference counts disagree with the tables"
        assert sorted(self.free_blocks) == [b for b in range(self.n_blocks) if counts[b] == 0]
