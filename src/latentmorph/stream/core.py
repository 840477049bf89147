"""``StreamCore``: the causal latent granular engine as one TorchScript-ready module.

The same module runs in Python (:class:`latentmorph.stream.Streamer` calls it eagerly)
and inside the exported ``.ts`` file (scripted), so both give the same samples.

Timeline (``hop`` samples per frame, ``L`` frames of look-ahead):

* frame ``f`` is encoded once input sample ``(f + 1) * hop`` has arrived, from the last
  ``n_fft`` input samples only (embedded codec maths: Hann window, power spectrum,
  mel bands, log, DCT), standardised (``running``: by the source's statistics so far,
  the causal form of the offline ``normalize="both"``; else by the corpus's), then
  searched: top-k corpus grains by cosine similarity;
* frame ``t = f - L`` is decided then, by a fixed-lag Viterbi over frames ``t..t+L``
  that starts from the grain already played at ``t - 1`` (committed past, look-ahead
  future): jumps cost ``continuity``, reusing one of the last ``avoid_repeat`` grains
  costs ``REPEAT_PENALTY``, emissions are ``(best score - score) / unit`` with ``unit``
  the running mean of the top-k spread (the offline matcher's cost unit, causal);
* the decided grain's hop of corpus audio is written out: a grain that plays on from
  the previous one is copied as is, a jump crossfades (sine in, cosine out, ``fade``
  samples after the frame boundary) from the previous grain's continuation;
* the hop is scaled to the source's RMS in ``FOLLOW_DIVISION`` sub-frames (gains ramp
  from the last sub-frame's over ``GAIN_RAMP`` samples), gated where the source is
  silent, mixed with the dry source (``wet``) and peak-limited to +-``PEAK_CEILING``
  (``LIMIT_ATTACK`` samples of look-ahead inside the hop, ``LIMIT_RELEASE`` recovery).

Output sample ``s`` is the rendering of input sample ``s - latency`` with
``latency = (L + 1) * hop`` whatever the block size.
"""

from __future__ import annotations

from typing import List

import torch

#: Cost of reusing a recent grain, in cost units (as the offline matcher).
REPEAT_PENALTY = 8.0
#: Loudness is followed on sub-frames of ``hop / FOLLOW_DIVISION`` samples.
FOLLOW_DIVISION = 2
#: Largest boost of a quiet output sub-frame (dB).
MAX_GAIN_DB = 30.0
#: Source hops with a peak under this are silent (the output is gated), as offline.
SILENCE_PEAK = 10 ** (-90 / 20)
#: Output peak limit (about -0.1 dBFS).
PEAK_CEILING = 0.989
_LOG_FLOOR = 1e-10
#: ``running`` normalisation: the corpus statistics count as this many source frames (1 s).
RUNNING_PRIOR = 43.0
#: Source frames within this many dB of the loudest so far, and above FLOOR_DB, update the
#: running statistics (the offline ``normalize="both"`` uses 30 dB under the loudest frame).
ACTIVE_DB = 30.0
FLOOR_DB = -70.0
#: Loudness gains move to a half-hop's value over its first GAIN_RAMP samples (3 ms).
GAIN_RAMP = 128
#: Output limiter: gain reaches its target this many samples (5.8 ms) before a peak (within the hop)...
LIMIT_ATTACK = 256
#: ...and recovers by 1 over this many samples (50 ms).
LIMIT_RELEASE = 2205


def _put(t: torch.Tensor, i: int, value: torch.Tensor) -> torch.Tensor:
    """A copy of ``t`` with row ``i`` set to ``value`` (state is replaced, not written in place)."""
    out = t.clone()
    out[i] = value
    return out


class StreamCore(torch.nn.Module):
    """Causal block engine (see module docstring). Tensors are float32 unless noted.

    Args:
        feats: ``[N, D']`` unit matching features of the corpus grains.
        valid: ``[N]`` bool, grains that may be matched.
        succ: ``[N]`` int64 successor of each grain (-1 at file ends).
        offset: ``[N]`` int64 start of each grain's hop in ``audio``.
        audio: ``[S]`` the corpus audio, files separated by zeros.
        keep, mean, scale, weight: matching-space map of a latent frame (``[D']``; keep int64).
        window: ``[n_fft]`` analysis window; mel: ``[n_mels, n_fft//2+1]``; dct: ``[dim, n_mels]``.
        hop: samples per frame. channels: audio channels processed independently.
        lag: look-ahead frames ``L`` (fixed: it sets the latency).
        k_max: candidates kept per frame (``k`` can be lowered live).
        repeat_max: longest ``avoid_repeat`` allowed live.
        fade: crossfade samples at a jump (``<= hop``).
    """

    def __init__(self, feats: torch.Tensor, valid: torch.Tensor, succ: torch.Tensor, offset: torch.Tensor,
                 audio: torch.Tensor, keep: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor,
                 weight: torch.Tensor, window: torch.Tensor, mel: torch.Tensor, dct: torch.Tensor,
                 hop: int, channels: int = 1, lag: int = 1, k: int = 8, k_max: int = 16,
                 continuity: float = 2.0, avoid_repeat: int = 8, repeat_max: int = 64,
                 follow_loudness: bool = True, wet: float = 1.0, fade: int = 512, running: bool = True) -> None:
        super().__init__()
        n_valid = int(valid.sum())
        # buffers, declared for type checkers (bare annotations: no runtime effect, TorchScript reads the buffers)
        self.feats: torch.Tensor
        self.valid: torch.Tensor
        self.succ: torch.Tensor
        self.offset: torch.Tensor
        self.audio: torch.Tensor
        self.keep: torch.Tensor
        self.mean: torch.Tensor
        self.scale: torch.Tensor
        self.weight: torch.Tensor
        self.window: torch.Tensor
        self.mel: torch.Tensor
        self.dct: torch.Tensor
        self.ramp_in: torch.Tensor
        self.ramp_out: torch.Tensor
        self.mask: torch.Tensor
        self.ramp_sub: torch.Tensor
        self.idx: torch.Tensor
        self.ramp_hop: torch.Tensor
        self.register_buffer("feats", feats.float().contiguous())
        self.register_buffer("valid", valid.bool())
        self.register_buffer("succ", succ.long())
        self.register_buffer("offset", offset.long())
        self.register_buffer("audio", audio.float().contiguous())
        self.register_buffer("keep", keep.long())
        self.register_buffer("mean", mean.float())
        self.register_buffer("scale", scale.float())
        self.register_buffer("weight", weight.float())
        self.register_buffer("window", window.float())
        self.register_buffer("mel", mel.float())
        self.register_buffer("dct", dct.float())
        fade = max(1, min(int(fade), int(hop)))
        ramp = torch.sin(0.5 * torch.pi * (torch.arange(fade, dtype=torch.float64) + 0.5) / fade)
        self.register_buffer("ramp_in", ramp.float())
        self.register_buffer("ramp_out", ramp.flip(0).float())
        # masked score offset: invalid grains never reach the top-k
        self.register_buffer("mask", torch.where(self.valid, 0.0, float("-inf")).float())
        self.hop = int(hop)
        self.n_fft = int(window.shape[0])
        self.channels = int(channels)
        self.lag = int(lag)
        self.k_max = max(1, min(int(k_max), n_valid))
        self.k = max(1, min(int(k), self.k_max))
        self.repeat_max = max(1, int(repeat_max))
        self.avoid_repeat = max(0, min(int(avoid_repeat), self.repeat_max))
        self.continuity = float(continuity)
        self.follow_loudness = bool(follow_loudness)
        self.wet = float(wet)
        self.fade = fade
        self.division = FOLLOW_DIVISION if self.hop % FOLLOW_DIVISION == 0 else 1
        sub = self.hop // self.division
        # linear ramps (1..n)/n for the loudness sub-frames and the silence gate
        self.register_buffer("ramp_sub", (torch.arange(1, sub + 1, dtype=torch.float64) / min(GAIN_RAMP, sub)).clamp(max=1.0))
        self.register_buffer("idx", torch.arange(self.hop, dtype=torch.float64))
        self.attack = 1.0 / LIMIT_ATTACK
        self.release = 1.0 / LIMIT_RELEASE
        self.register_buffer("ramp_hop", torch.arange(1, self.hop + 1, dtype=torch.float64) / self.hop)
        self.max_gain = float(10 ** (MAX_GAIN_DB / 20))
        self.log_floor = _LOG_FLOOR
        self.repeat_penalty = REPEAT_PENALTY
        self.silence_peak = float(SILENCE_PEAK)
        self.peak_ceiling = PEAK_CEILING
        self.running = bool(running)
        self.prior = RUNNING_PRIOR
        self.active_db = ACTIVE_DB
        self.floor_db = FLOOR_DB
        self.latency = (self.lag + 1) * self.hop
        self.history_len = max(self.n_fft, self.latency)
        self.dq = int(feats.shape[1])
        self._fresh_state()

    @torch.jit.export
    def reset(self) -> None:
        """Forget all past input: the next sample is treated as the first."""
        self._fresh_state()

    def _fresh_state(self) -> None:
        # Every state tensor is replaced, never written in place, so the module runs both
        # under torch.inference_mode (as nn~ calls it) and outside it, in any order.
        C, Dq = self.channels, self.dq
        self.hist = torch.zeros(C, self.history_len)
        self.pending = torch.zeros(C, self.hop)
        self.filled = 0
        self.frames = 0
        self.la_ids = torch.full((C, self.lag + 1, self.k_max), -1, dtype=torch.long)
        self.la_scores = torch.zeros(C, self.lag + 1, self.k_max)
        self.la_q = torch.zeros(C, self.lag + 1, Dq)
        self.unit_sum = torch.zeros(C, dtype=torch.float64)
        self.prev = torch.full((C,), -1, dtype=torch.long)
        self.recent = torch.full((C, self.repeat_max), -2, dtype=torch.long)
        self.gain_prev = torch.full((C,), -1.0)
        self.gate_prev = torch.full((C,), -1.0)
        self.fifo = torch.zeros(C, self.latency)
        self.s1 = torch.zeros(C, Dq, dtype=torch.float64)
        self.s2 = torch.zeros(C, Dq, dtype=torch.float64)
        self.n_act = torch.zeros(C, dtype=torch.float64)
        self.level_max = torch.full((C,), -1000.0, dtype=torch.float64)
        self.limit_prev = torch.ones(C, dtype=torch.float64)

    # ---- encoding and search ----------------------------------------------------------
    @torch.jit.export
    def analyse(self, frames: torch.Tensor) -> torch.Tensor:
        """Windows ``[C, n_fft]`` (the last ``n_fft`` input samples) -> kept latent dims ``[C, D']``."""
        spec = torch.fft.rfft(frames * self.window, dim=-1)
        power = spec.real * spec.real + spec.imag * spec.imag
        logmel = torch.log(power @ self.mel.t() + self.log_floor)
        ceps = logmel @ self.dct.t()  # [C, dim]
        return ceps[:, self.keep]

    def _query(self, x: torch.Tensor, hop_audio: torch.Tensor) -> torch.Tensor:
        """Kept dims ``[C, D']`` of the newest frame -> unit queries ``[C, D']``.

        ``running``: standardised by the source's own statistics so far (frames within
        ``ACTIVE_DB`` of the loudest yet and above ``FLOOR_DB``), starting from the corpus
        statistics as a prior worth ``prior`` frames.
        """
        if self.running:
            rms = hop_audio.double().square().mean(1).sqrt().clamp_min(1e-12)
            level = (20.0 * torch.log10(rms)).clamp_min(-100.0)
            self.level_max = torch.maximum(self.level_max, level)
            act = ((level > self.level_max - self.active_db) & (level > self.floor_db)).double()[:, None]
            xd = x.double()
            self.s1 = self.s1 + xd * act
            self.s2 = self.s2 + xd * xd * act
            self.n_act = self.n_act + act[:, 0]
            mu, sd = self.mean.double(), self.scale.double()
            total = (self.n_act + self.prior)[:, None]
            mean = (self.s1 + self.prior * mu) / total
            ex2 = (self.s2 + self.prior * (sd * sd + mu * mu)) / total
            std = (ex2 - mean * mean).clamp_min(0.0).sqrt()
            std = torch.where(std > 1e-6, std, 1.0)
            q = ((xd - mean) / std).float() * self.weight
        else:
            q = (x - self.mean) / self.scale * self.weight
        return q / torch.linalg.vector_norm(q, dim=1, keepdim=True).clamp_min(1e-12)

    def _encode_frame(self) -> None:
        q = self._query(self.analyse(self.hist[:, self.history_len - self.n_fft:]), self.hist[:, self.history_len - self.hop:])
        scores = q @ self.feats.t() + self.mask  # [C, N]
        top, ids = torch.topk(scores, self.k_max, dim=1)
        self.la_ids = torch.cat([self.la_ids[:, 1:], ids[:, None]], dim=1)
        self.la_scores = torch.cat([self.la_scores[:, 1:], top[:, None]], dim=1)
        self.la_q = torch.cat([self.la_q[:, 1:], q[:, None]], dim=1)
        k = self.k
        self.unit_sum = self.unit_sum + (top[:, 0] - top[:, k - 1]).double()
        self.frames += 1

    # ---- matching -----------------------------------------------------------------------
    def _continuations(self, cand: torch.Tensor) -> torch.Tensor:
        """Grains that play on after ``cand`` (``-1`` where none or not matchable)."""
        nxt = torch.where(cand >= 0, self.succ[cand.clamp(min=0)], -1)
        ok = (nxt >= 0) & self.valid[nxt.clamp(min=0)]
        return torch.where(ok, nxt, -1)

    def _cand_scores(self, j: int, c: int, cand: torch.Tensor) -> torch.Tensor:
        s = (self.feats[cand.clamp(min=0)] @ self.la_q[c, j]).double()
        return torch.where(cand >= 0, s, float("-inf"))

    def _decide(self, c: int) -> int:
        """Grain for frame ``frames - 1 - lag`` of channel ``c`` (fixed-lag Viterbi)."""
        k = self.k
        unit = float(self.unit_sum[c]) / float(self.frames)
        if unit <= 1e-9:
            unit = 1.0
        prev = self.prev[c:c + 1]
        H = self.avoid_repeat
        recent = self.recent[c, self.repeat_max - H:]
        cont = self._continuations(prev)
        ids = self.la_ids[c, 0, :k]
        cand = torch.cat([ids, cont])
        scores = torch.cat([self.la_scores[c, 0, :k].double(), self._cand_scores(0, c, cont)])
        emis = (scores[0] - scores) / unit
        acc = emis
        if int(prev[0]) >= 0:
            acc = acc + self.continuity * (cand != cont[0]).double()
        if H > 0:
            acc = acc + self.repeat_penalty * (cand[:, None] == recent[None, :]).any(1).double()
        cands: List[torch.Tensor] = [cand]
        backs: List[torch.Tensor] = []
        for j in range(1, self.lag + 1):
            cont_j = self._continuations(cand)
            ids_j = self.la_ids[c, j, :k]
            new = torch.cat([ids_j, cont_j])
            new_scores = torch.cat([self.la_scores[c, j, :k].double(), self._cand_scores(j, c, cont_j)])
            emis_j = (new_scores[0] - new_scores) / unit
            total = acc[:, None] + self.continuity * (new[None, :] != cont_j[:, None]).double()
            back = torch.argmin(total, dim=0)
            acc = total.gather(0, back[None, :])[0] + emis_j
            if H > 0:
                acc = acc + self.repeat_penalty * (new[:, None] == recent[None, :]).any(1).double()
            cands.append(new)
            backs.append(back)
            cand = new
        idx = int(torch.argmin(acc))
        for j in range(self.lag - 1, -1, -1):
            idx = int(backs[j][idx])
        return int(cands[0][idx])

    # ---- rendering ----------------------------------------------------------------------
    def _render(self, c: int, g: int, src: torch.Tensor) -> torch.Tensor:
        """One hop of output for channel ``c`` playing grain ``g``; ``src`` the source hop."""
        hop, F = self.hop, self.fade
        p = int(self.prev[c])
        start = int(self.offset[g])
        chunk = self.audio[start:start + hop].clone()
        if p < 0 or int(self.succ[p]) != g:
            head = chunk[:F] * self.ramp_in
            if p >= 0:
                tail_at = int(self.offset[p]) + hop
                head = head + self.audio[tail_at:tail_at + F] * self.ramp_out
            chunk = torch.cat([head, chunk[F:]])
        if self.follow_loudness:
            m = hop // self.division
            w = chunk.double().view(self.division, m)
            target = src.double().view(self.division, m).square().mean(1).sqrt()
            have = w.square().mean(1).sqrt()
            gain = torch.where(have > 1e-9, (target / have.clamp_min(1e-300)).clamp(max=self.max_gain), 0.0)
            last = self.gain_prev[c:c + 1].double()
            before = torch.cat([torch.where(last < 0.0, gain[:1], last), gain[:-1]])
            chunk = (w * (before[:, None] + (gain - before)[:, None] * self.ramp_sub[None, :])).reshape(-1).float()
            self.gain_prev = _put(self.gain_prev, c, gain[-1].float())
        gate = 1.0 if float(src.abs().max()) >= self.silence_peak else 0.0
        before_gate = float(self.gate_prev[c])
        if before_gate < 0.0:
            before_gate = gate
        if before_gate != 1.0 or gate != 1.0:
            chunk = chunk * (before_gate + (gate - before_gate) * self.ramp_hop).float()
        self.gate_prev = _put(self.gate_prev, c, torch.tensor(gate))
        out = torch.nan_to_num(self.wet * chunk + (1.0 - self.wet) * src, nan=0.0, posinf=0.0, neginf=0.0)
        return self._limit(c, out)

    def _limit(self, c: int, x: torch.Tensor) -> torch.Tensor:
        """Peak limiter: gain <= what keeps ``|x| <= peak_ceiling``, reached ``LIMIT_ATTACK``
        samples ahead within the hop and recovering over ``LIMIT_RELEASE`` samples."""
        need = (self.peak_ceiling / x.double().abs().clamp_min(1e-12)).clamp(max=1.0)
        i = self.idx
        ahead = torch.flip(torch.cummin(torch.flip(need + i * self.attack, [0]), 0).values, [0]) - i * self.attack
        prev = self.limit_prev[c]
        env = torch.minimum(prev + (i + 1.0) * self.release,
                            torch.cummin(ahead - i * self.release, 0).values + i * self.release).clamp(max=1.0)
        self.limit_prev = _put(self.limit_prev, c, env[-1])
        return (x.double() * env).float().clamp(-self.peak_ceiling, self.peak_ceiling)

    def _step(self) -> None:
        """A hop of input has arrived: encode it, decide the frame ``lag`` back, render."""
        self._encode_frame()
        if self.frames <= self.lag:
            return
        at = self.history_len - self.latency
        src = self.hist[:, at:at + self.hop]
        outs: List[torch.Tensor] = []
        for c in range(self.channels):
            g = self._decide(c)
            outs.append(self._render(c, g, src[c]))
            self.prev = _put(self.prev, c, torch.tensor(g))
            self.recent = _put(self.recent, c, torch.cat([self.recent[c, 1:], torch.tensor([g], dtype=torch.long)]))
        self.fifo = torch.cat([self.fifo, torch.stack(outs)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[C, n]`` float32 (any ``n >= 0``) -> ``[C, n]``, ``latency`` samples late."""
        n = int(x.shape[-1])
        i = 0
        while i < n:
            take = min(n - i, self.hop - self.filled)
            pending = self.pending.clone()
            pending[:, self.filled:self.filled + take] = x[:, i:i + take]
            self.pending = pending
            self.filled += take
            i += take
            if self.filled == self.hop:
                self.hist = torch.cat([self.hist[:, self.hop:], self.pending], dim=1)
                self.pending = torch.zeros(self.channels, self.hop)
                self.filled = 0
                self._step()
        out = self.fifo[:, :n]
        self.fifo = self.fifo[:, n:]
        return out
