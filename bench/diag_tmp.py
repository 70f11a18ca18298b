import sys; sys.path.insert(0, "bench")
import mlx.core as mx, bench
from mg_live.engine import cuda_decoder
from mg_live.engine.musicgen import Span
model = bench.random_model(bench.config_for("small", False), mx.float16, None)
D = model.cfg.decoder.hidden_size
from mg_live.engine.conditioning import cross_inputs, BUCKET
cross, mask = cross_inputs(model, (mx.zeros((1, 16, D)), mx.ones((1, 16), mx.int32)), None, True, BUCKET)
for rows_per in (1, 2, 4, 8):
    x = mx.zeros((2, rows_per, D), mx.float16)
    cache = model.decoder.new_cache(4, 1536)
    try:
        out, _ = model.decoder(x, [Span(0, rows_per, mx.array([5]), 1536, mx.float16)], cache, cross, mask)
        mx.eval(out); print("B", 2 * rows_per, "ok", cuda_decoder.fits(model.decoder, x, cache, cross))
    except Exception as e:
        print("B", 2 * rows_per, "failed", str(e)[:100])
