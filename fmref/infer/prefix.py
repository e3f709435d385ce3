"""Prefix caching: a radix tree over token ids whose nodes own KV-cache blocks (SGLang).

Many requests to a server begin with the same tokens: a system prompt, the
few-shot examples of a task, the earlier turns of a conversation. Their keys
and values are the same too (position ``j``'s key depends only on tokens
``0..j``), so a server that keeps them can skip that part of every later
prefill. SGLang's *RadixAttention* keeps the KV cache of finished requests in a
radix tree keyed by token ids: each edge holds a run of tokens and owns the KV
blocks of those tokens; a new request walks down the tree as far as its prompt
agrees with it and prefills only the rest. Under memory pressure the least
recently used leaves are evicted; a node that a running request uses is
*locked* (its reference count is positive) and is never evicted.

Here the tree's blocks come from a :class:`~fmref.infer.paged.PagedKVAllocator`
(each node is one of its "sequences"), so only whole blocks are cached: a run
of tokens shorter than a block is left to be recomputed, as in SGLang with a
page size above one. With ``tokens_per_block=1`` the tree is token-level.
"""

from __future__ import annotations

import heapq

import torch

from fmref._validate import check_instance, check_int, check_positive_int
from fmref.infer.generate import generate
from fmref.infer.paged import PagedKVAllocator
from fmref.nn.attention import KVCache

__all__ = ["RadixCache", "generate_with_prefix_cache"]


class _Node:
    """One edge of the tree: a run of whole blocks of tokens and the blocks that hold them."""

    __slots__ = ("id", "key", "parent", "children", "ref_count", "last_access")

    def __init__(self, node_id, key, parent):
        self.id, self.key, self.parent = node_id, key, parent  # key: tuple of token ids
        self.children = {}  # first block of the child's key (a tuple) -> child
        self.ref_count = 0  # running requests that use this node
        self.last_access = 0  # logical clock of the last match through it


class RadixCache:
    """A radix tree of cached prefixes whose nodes own blocks of a paged KV pool.

    Parameters
    ----------
    capacity_tokens : int
        Tokens the cache may hold; the pool has ``capacity_tokens //
        tokens_per_block`` blocks.
    tokens_per_block : int, default 1
        Block size: only whole blocks are cached and matched.

    Attributes
    ----------
    pool : PagedKVAllocator
        The blocks; each tree node is one sequence of the pool, keyed by its id.
    kv : dict
        ``block -> list of (keys, values)`` per layer, each ``(n_kv_heads,
        tokens_per_block, d_head)``, for blocks inserted with a ``kv_cache``.

    Raises
    ------
    ValueError
        If a size is not a positive int or the capacity is less than one block.

    References
    ----------
    .. [1] Zheng et al., "SGLang: Efficient Execution of Structured Language
       Model Programs", NeurIPS 2024 (RadixAttention).
    .. [2] Kwon et al., "Efficient Memory Management for Large Language Model
       Serving with PagedAttention", SOSP 2023.

    Examples
    --------
    >>> from fmref.infer.prefix import RadixCache
    >>> cache = RadixCache(capacity_tokens=14, tokens_per_block=2)  # 7 blocks
    >>> system = [7, 7, 1, 2]  # a 4-token system prompt
    >>> cache.insert(system + [5, 6, 9])  # 7 tokens: 3 whole blocks are cached
    6
    >>> cache.match_prefix(system + [8, 8, 8])  # another user, the same system prompt
    4
    >>> cache.insert(system + [8, 8, 8, 8])  # shares the first two blocks
    8
    >>> cache.n_cached_tokens, cache.pool.n_free  # 6 + 4 new tokens, 2 blocks left
    (10, 2)
    >>> _, handle = cache.acquire(system + [8, 8])  # a running request locks its prefix
    >>> cache.insert([1, 1, 1, 1, 1, 1])  # needs 3 blocks: evicts the LRU leaf [5, 6]
    6
    >>> cache.match_prefix(system + [5, 6]), cache.match_prefix(system + [8, 8, 8, 8])
    (4, 8)
    >>> cache.release(handle)
    """

    def __init__(self, capacity_tokens, tokens_per_block=1):
        check_positive_int("tokens_per_block", tokens_per_block)
        check_int("capacity_tokens", capacity_tokens, low=tokens_per_block)
        self.tokens_per_block = tokens_per_block
        self.pool = PagedKVAllocator(capacity_tokens // tokens_per_block, tokens_per_block)
        self.kv = {}
        self._ids = 0
        self._clock = 0
        self.root = self._new_node((), None)
        self.root.ref_count = 1  # the root is never evicted

    # ------------------------------------------------------------------ queries
    @property
    def capacity_tokens(self):
        """Tokens the pool holds when full."""
        return self.pool.n_blocks * self.tokens_per_block

    @property
    def n_cached_tokens(self):
        """Tokens held in the tree."""
        return (self.pool.n_blocks - self.pool.n_free) * self.tokens_per_block

    def match_prefix(self, tokens):
        """Number of leading tokens of ``tokens`` held in the cache (whole blocks).

        Marks the matched nodes as used now (for LRU eviction).

        Parameters
        ----------
        tokens : sequence of int
            Token ids.

        Returns
        -------
        int
            A multiple of ``tokens_per_block``, at most ``len(tokens)``.
        """
        node, n = self._walk(self._aligned(tokens))
        self._touch(node)
        return n

    # ------------------------------------------------------------------ updates
    def acquire(self, tokens):
        """Match ``tokens`` and lock the matched nodes until :meth:`release`.

        Returns
        -------
        n_cached : int
            As :meth:`match_prefix`.
        handle : object
            Pass it to :meth:`release` once the request is done.
        """
        node, n = self._walk(self._aligned(tokens))
        self._touch(node)
        self._lock(node, +1)
        return n, node

    def release(self, handle):
        """Unlock the nodes that :meth:`acquire` locked (``handle``: what it returned)."""
        check_instance("handle", handle, _Node)
        if handle.ref_count < 1:
            raise ValueError("handle must come from acquire and be released once")
        self._lock(handle, -1)

    def insert(self, tokens, kv_cache=None):
        """Cache the whole blocks of ``tokens``, evicting LRU unlocked leaves for room.

        Parameters
        ----------
        tokens : sequence of int
            Token ids; a last partial block is not cached.
        kv_cache : fmref.nn.attention.KVCache, optional
            Keys and values of (at least) these tokens, batch 0; the new blocks
            copy theirs. Without it only the bookkeeping is done (a simulator).

        Returns
        -------
        int
            Leading tokens of ``tokens`` cached after the call: less than the
            aligned length only when locked nodes leave too few blocks.

        Raises
        ------
        ValueError
            If ``kv_cache`` holds fewer tokens than are to be cached.
        """
        key = self._aligned(tokens)
        if kv_cache is not None:
            check_instance("kv_cache", kv_cache, KVCache)
            if kv_cache.length < len(key):
                raise ValueError(
                    f"kv_cache must hold the {len(key)} tokens to cache, got {kv_cache.length}"
                )
        node, n = self._walk(key)
        self._touch(node)
        rest = key[n:]
        if not rest:
            return n
        self._lock(node, +1)  # the path must survive the eviction below
        need = len(rest) // self.tokens_per_block
        self.evict(need - self.pool.n_free)
        self._lock(node, -1)
        take = min(need, self.pool.n_free) * self.tokens_per_block
        if take == 0:
            return n
        child = self._new_node(rest[:take], node)
        node.children[self._first_block(child.key)] = child
        blocks = self.pool.allocate(child.id, take)
        if kv_cache is not None:
            self._store(blocks, kv_cache, n)
        self._touch(child)
        return n + take

    def evict(self, n_blocks):
        """Free at least ``n_blocks`` blocks by dropping unlocked leaves, least recent first.

        Returns
        -------
        int
            Blocks freed (fewer when locked nodes hold the rest).
        """
        freed = 0
        heap = [(leaf.last_access, leaf.id, leaf) for leaf in self._leaves() if not leaf.ref_count]
        heapq.heapify(heap)
        while freed < n_blocks and heap:
            _, _, leaf = heapq.heappop(heap)
            freed += len(self.pool.block_tables[leaf.id])
            for block in self.pool.block_tables[leaf.id]:
                self.kv.pop(block, None)
            self.pool.free(leaf.id)
            parent = leaf.parent
            del parent.children[self._first_block(leaf.key)]
            if not parent.children and not parent.ref_count:
                heapq.heappush(heap, (parent.last_access, parent.id, parent))
        return freed

    def load(self, tokens, kv_cache):
        """Fill an empty ``kv_cache`` with the cached keys and values of the prefix of ``tokens``.

        Parameters
        ----------
        tokens : sequence of int
            Token ids.
        kv_cache : fmref.nn.attention.KVCache
            An empty cache with the model's number of layers.

        Returns
        -------
        int
            Tokens loaded (:meth:`match_prefix` of ``tokens``).

        Raises
        ------
        ValueError
            If ``kv_cache`` is not empty or a matched block was inserted
            without keys and values.
        """
        check_instance("kv_cache", kv_cache, KVCache)
        if kv_cache.length:
            raise ValueError(f"kv_cache must be empty, got {kv_cache.length} tokens")
        node, n = self._walk(self._aligned(tokens))
        self._touch(node)
        path = []
        while node is not self.root:
            path.append(node)
            node = node.parent
        blocks = [b for node in reversed(path) for b in self.pool.block_tables[node.id]]
        if not blocks:
            return 0
        if any(b not in self.kv for b in blocks):
            raise ValueError("kv_cache: the cached prefix was inserted without keys and values")
        for layer in range(kv_cache.n_layers):
            k = torch.cat([self.kv[b][layer][0] for b in blocks], dim=-2)  # (H, n, d_head)
            v = torch.cat([self.kv[b][layer][1] for b in blocks], dim=-2)
            kv_cache.update(layer, k.unsqueeze(0), v.unsqueeze(0))  # (1, H, n, d_head)
        return n

    def check(self):
        """Raise ``AssertionError`` unless the tree and the pool agree.

        Every non-root node owns exactly the blocks its key needs, no block
        belongs to two nodes, children are keyed by their first block, the
        pool's reference counts match (``PagedKVAllocator.check``), and
        every locked node's ancestors are locked too.
        """
        self.pool.check()
        assert max(self.pool.ref_counts, default=0) <= 1, "a block is shared by two nodes"
        seen = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            for first, child in node.children.items():
                assert child.parent is node and first == self._first_block(child.key)
                assert child.key and len(child.key) % self.tokens_per_block == 0
                assert self.pool.lengths[child.id] == len(child.key)
                assert child.ref_count <= node.ref_count or node is self.root
                stack.append(child)
            if node is not self.root:
                seen.add(node.id)
        assert seen == set(self.pool.block_tables), "the pool holds a node the tree lost"
        held = {b for table in self.pool.block_tables.values() for b in table}
        assert set(self.kv) <= held, "keys and values of a freed block were kept"

    # ------------------------------------------------------------------ internals
    def _aligned(self, tokens):
        tokens = tuple(int(t) for t in tokens)
        return tokens[: len(tokens) - len(tokens) % self.tokens_per_block]

    def _first_block(self, key):
        return key[: self.tokens_per_block]

    def _new_node(self, key, parent):
        node = _Node(self._ids, key, parent)
        self._ids += 1
        return node

    def _walk(self, key):
        """Deepest node whose path is a prefix of ``key``, and that path's length.

        A node matched only in part is split at the last agreeing block, so the
        match always ends on a node (as in SGLang).
        """
        node, n, b = self.root, 0, self.tokens_per_block
        while n < len(key):
            child = node.children.get(key[n : n + b])
            if child is None:
                break
            common = b
            while (
                common < len(child.key)
                and n + common < len(key)
                and child.key[common : common + b] == key[n + common : n + common + b]
            ):
                common += b
            if common < len(child.key):
                child = self._split(child, common)
            node, n = child, n + common
        return node, n

    def _split(self, child, at):
        """Cut ``child`` after ``at`` tokens; the new upper node is returned."""
        upper = self._new_node(child.key[:at], child.parent)
        upper.ref_count, upper.last_access = child.ref_count, child.last_access
        child.parent.children[self._first_block(upper.key)] = upper
        child.key, child.parent = child.key[at:], upper
        upper.children[self._first_block(child.key)] = child
        # Move the first blocks to the new node: no block changes owner count.
        table, n_upper = self.pool.block_tables[child.id], at // self.tokens_per_block
        self.pool.block_tables[upper.id], self.pool.lengths[upper.id] = table[:n_upper], at
        self.pool.block_tables[child.id] = table[n_upper:]
        self.pool.lengths[child.id] -= at
        return upper

    def _touch(self, node):
        self._clock += 1
        while node is not None:
            node.last_access = self._clock
            node = node.parent

    def _lock(self, node, delta):
        while node is not self.root:
            node.ref_count += delta
            node = node.parent

    def _leaves(self):
        stack, leaves = [self.root], []
        while stack:
            node = stack.pop()
            if node.children:
                stack.extend(node.children.values())
            elif node is not self.root:
                leaves.append(node)
        return leaves

    def _store(self, blocks, kv_cache, start):
        b = self.tokens_per_block
        for i, block in enumerate(blocks):
            lo = start + i * b
            self.kv[block] = [
                (kv_cache.keys[layer][0, :, lo : lo + b].clone(),  # (H, b, d_head)
                 kv_cache.values[layer][0, :, lo : lo + b].clone())
                for layer in range(kv_cache.n_layers)
            ]  # fmt: skip


@torch.no_grad()
def generate_with_prefix_cache(model, idx, max_new_tokens, cache, **sampling):
    """:func:`~fmref.infer.generate.generate`, starting from the cached prefix of the prompt.

    The longest cached prefix of the prompt (all but its last token, which must
    be fed to get the next distribution) is loaded into a fresh KV cache and
    locked while the request runs; the model prefills only the rest. At the
    end the sequence's keys and values are inserted into ``cache`` for later
    requests, as SGLang does when a request finishes.

    Parameters
    ----------
    model : fmref.models.gpt.GPT or fmref.models.llama.Llama
        The model whose keys and values ``cache`` holds.
    idx : torch.Tensor
        One prompt ``(1, T)``.
    max_new_tokens : int
        Tokens to add, ``>= 0``.
    cache : RadixCache
        The prefix cache.
    **sampling
        ``temperature``, ``top_k``, ``top_p``, ``generator`` of
        :func:`~fmref.infer.generate.generate`.

    Returns
    -------
    tokens : torch.Tensor
        ``(1, T + max_new_tokens)``: the same as a run without the cache.
    n_cached : int
        Prompt tokens that were not recomputed.

    Raises
    ------
    ValueError
        If ``idx`` is not one prompt ``(1, T)``.
    TypeError
        If ``cache`` is not a :class:`RadixCache`.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.infer.generate import generate
    >>> from fmref.infer.prefix import RadixCache, generate_with_prefix_cache
    >>> model = GPT(GPTConfig(vocab_size=11, block_size=32, n_layer=2, n_head=2, n_embd=16))
    >>> cache = RadixCache(capacity_tokens=64, tokens_per_block=4)
    >>> system = [1, 2, 3, 4, 5, 6, 7, 8]
    >>> first, n = generate_with_prefix_cache(model, torch.tensor([system + [9]]), 6, cache,
    ...                                       temperature=0)
    >>> n  # a cold cache
    0
    >>> second, n = generate_with_prefix_cache(model, torch.tensor([system + [10]]), 6, cache,
    ...                                        temperature=0)
    >>> n  # the system prompt's two blocks are reused
    8
    >>> torch.equal(second, generate(model, torch.tensor([system + [10]]), 6, temperature=0))
    True
    """
    check_instance("cache", cache, RadixCache)
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[0] != 1:
        shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise ValueError(f"idx must have shape (1, T) (one prompt), got {shape}")
    prompt = idx[0].tolist()
    kv = model.make_kv_cache()
    n_cached, handle = cache.acquire(prompt[:-1])
    cache.load(prompt[:n_cached], kv)
    try:
        out = generate(model, idx, max_new_tokens, kv_cache=kv, **sampling)
    finally:
        cache.release(handle)
    cache.insert(out[0, : kv.length].tolist(), kv)
    return out, n_cached
