"""fmref: the code appendix of the Foundation Model Engineering reference manual.

One small, readable PyTorch reference implementation of each idea the manual
teaches. Every subpackage resolves on first use (``import fmref; fmref.nn``) and
exports its modules' public names, so ``from fmref.peft import LoRALinear`` and
``from fmref.peft.lora import LoRALinear`` give the same object; importing a
package imports none of its modules until a name is used.

Where each chapter's code lives:

=========  =======================================  ==========================================
Chapter    Topic                                    fmref home
=========  =======================================  ==========================================
I          Foundation models and applications       a tour across :mod:`fmref.models`
II         NLP and computer vision                  :mod:`fmref.text`, :mod:`fmref.vision`
III        RNN and CNN                              :mod:`fmref.nn` (recurrent, conv)
IV         Early Transformer variants               :mod:`fmref.models` (seq2seq, transformer)
V          Self-attention and Transformers          :mod:`fmref.nn` (attention, position,
                                                    norm), :mod:`fmref.models` (gpt)
VI         Efficient Transformers                   :mod:`fmref.nn` (efficient, moe,
                                                    position), :mod:`fmref.models`
                                                    (mamba), :mod:`fmref.eval`
                                                    (long_context)
VII        Parameter-efficient tuning               :mod:`fmref.peft`
VIII       Language model pretraining               :mod:`fmref.train` (objectives, loop),
                                                    :mod:`fmref.models` (bert)
IX         Large language models                    :mod:`fmref.models` (llama),
                                                    :mod:`fmref.scaling` (parameter counts)
X          Scaling laws                             :mod:`fmref.scaling`
XI         Instruction tuning and RLHF              :mod:`fmref.align`
XII        Efficient LLM training                   :mod:`fmref.train` (efficient,
                                                    distributed)
XIII       Efficient LLM inference                  :mod:`fmref.infer`
XIV        Compress and sparsify LLMs               :mod:`fmref.compress`
XV         LLM prompting                            :mod:`fmref.prompting`
XVI        Vision Transformers                      :mod:`fmref.models` (vit)
XVII       Diffusion models                         :mod:`fmref.diffusion`
XVIII      Image generation                         :mod:`fmref.generative`
XIX        Multimodal pretraining                   :mod:`fmref.multimodal` (contrastive,
                                                    clip)
XX         Large multimodal models                  :mod:`fmref.multimodal` (lmm)
XXI        Tool augmentation                        :mod:`fmref.agents`
XXII       Retrieval augmentation                   :mod:`fmref.rag`
App. A     How models learn                         :mod:`fmref.autograd`, :mod:`fmref.optim`
App. B     Data for foundation models               :mod:`fmref.data`
App. C     Evaluation and experiment design         :mod:`fmref.eval`
=========  =======================================  ==========================================

Trained example models are cached by :mod:`fmref.zoo`; the benchmark results that
the chapters quote are saved in :mod:`fmref.results`.
"""

from fmref._lazy import attach as _attach

__version__ = "0.1.0"

__all__ = ["__version__"]

__getattr__, __dir__ = _attach(__name__, __path__, names=False)
