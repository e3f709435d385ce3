r"""The Fréchet distance between Gaussians, and FID in a digit classifier's feature space.

FID fits a Gaussian to the features of real images and one to the features of
generated images and reports the Fréchet (2-Wasserstein) distance between them,

.. math::

   d^2 = \lVert\mu_1 - \mu_2\rVert^2 + \operatorname{tr}\big(\Sigma_1 + \Sigma_2
         - 2(\Sigma_1\Sigma_2)^{1/2}\big).

Heusel et al. use the 2,048-d pool features of an Inception-v3 network on
ImageNet; for 8x8 digits, fmref uses the class-token features of the small ViT of
Chapter XVI (:func:`fmref.zoo.digits_vit`). Numbers are only comparable
within one feature extractor and one sample size.
"""

from __future__ import annotations

import torch

from fmref._validate import check_tensor

__all__ = ["feature_statistics", "frechet_distance", "digits_features", "digits_fid"]


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of a set of feature vectors (float64).

    Parameters
    ----------
    features : torch.Tensor
        ``(n, d)`` features, ``n >= 2``.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``mu`` of shape ``(d,)`` and the unbiased covariance ``sigma`` ``(d, d)``
        (``numpy.cov``'s convention, as in the reference FID code).

    Raises
    ------
    ValueError
        If ``features`` is not 2-D with at least two rows.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.fid import feature_statistics
    >>> mu, sigma = feature_statistics(torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    >>> mu.tolist(), sigma.tolist()
    ([1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]])
    """
    check_tensor("features", features, dtype="float", ndim=2, nonempty=True, finite=True)
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(
            f"features must have shape (n, d) with n >= 2, got {tuple(features.shape)}"
        )
    f = features.double()
    return f.mean(0), torch.cov(f.T).reshape(f.shape[1], f.shape[1])


def _sqrtm_psd(a: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    vals, vecs = torch.linalg.eigh(a)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(
    mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor
) -> float:
    r"""Squared Fréchet distance between two Gaussians, as in FID.

    The Gaussians are :math:`\mathcal N(\mu_1, \Sigma_1)` and :math:`\mathcal N(\mu_2, \Sigma_2)`.

    Computes :math:`\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}` as
    :math:`\operatorname{tr}(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2}`, a
    symmetric matrix whose square root an eigen-decomposition gives stably (the
    reference code calls ``scipy.linalg.sqrtm`` on the non-symmetric product).

    Parameters
    ----------
    mu1, mu2 : torch.Tensor
        ``(d,)`` means.
    sigma1, sigma2 : torch.Tensor
        ``(d, d)`` covariances (symmetric, positive semi-definite).

    Returns
    -------
    float
        :math:`d^2 \ge 0`; this squared distance is what papers report as "FID".

    Raises
    ------
    ValueError
        If the shapes do not agree.

    References
    ----------
    .. [1] Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a
       Local Nash Equilibrium", NeurIPS 2017 (FID).
    .. [2] Dowson and Landau, "The Fréchet distance between multivariate normal
       distributions", 1982.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.fid import frechet_distance
    >>> eye = torch.eye(2)
    >>> frechet_distance(torch.zeros(2), eye, torch.zeros(2), eye)
    0.0
    >>> # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2 = 9 + 16 + (1 - 2)^2
    >>> mu2, sigma2 = torch.tensor([3.0, 4.0]), torch.diag(torch.tensor([4.0, 1.0]))
    >>> round(frechet_distance(torch.zeros(2), eye, mu2, sigma2), 6)
    26.0
    """
    mu1, mu2, sigma1, sigma2 = (
        torch.as_tensor(a, dtype=torch.float64) for a in (mu1, mu2, sigma1, sigma2)
    )
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            "mu1, mu2 must have shape (d,) and sigma1, sigma2 shape (d, d); got "
            f"{tuple(mu1.shape)}, {tuple(mu2.shape)}, {tuple(sigma1.shape)}, {tuple(sigma2.shape)}"
        )
    root1 = _sqrtm_psd(sigma1)
    middle = _sqrtm_psd(root1 @ sigma2 @ root1)
    value = (
        (mu1 - mu2).pow(2).sum()
        + torch.trace(sigma1)
        + torch.trace(sigma2)
        - 2 * torch.trace(middle)
    )
    return max(float(value), 0.0)


def digits_features(images: torch.Tensor) -> torch.Tensor:
    """Features of 8x8 digit images: the cached digit ViT's class-token state.

    Parameters
    ----------
    images : torch.Tensor
        ``(n, 1, 8, 8)`` images with pixels in ``[-1, 1]`` (values are clamped).

    Returns
    -------
    torch.Tensor
        ``(n, 64)`` features of :func:`fmref.zoo.digits_vit`.

    Examples
    --------
    >>> from fmref.generative.fid import digits_features
    >>> from fmref.models.vit import digits_split
    >>> digits_features(digits_split()[2][:5]).shape
    torch.Size([5, 64])
    """
    check_tensor("images", images, dtype="float", ndim=4, shape="(B, 1, 8, 8)")
    from fmref.zoo import digits_vit

    model, _ = digits_vit()
    with torch.no_grad():
        return model.features(images.clamp(-1, 1))


def digits_fid(images: torch.Tensor, reference: torch.Tensor) -> float:
    """FID between two sets of 8x8 digits in the digit ViT's feature space.

    Parameters
    ----------
    images : torch.Tensor
        ``(n, 1, 8, 8)`` generated (or real) images in ``[-1, 1]``.
    reference : torch.Tensor
        ``(m, 1, 8, 8)`` real images, e.g. the test split of
        :func:`fmref.models.vit.digits_split`.

    Returns
    -------
    float
        The Fréchet distance of the two feature Gaussians. Use the same number
        of images when comparing models: FID is biased upwards for small ``n``.

    Examples
    --------
    >>> from fmref.generative.fid import digits_fid
    >>> from fmref.models.vit import digits_split
    >>> x_train, _, x_test, _ = digits_split()
    >>> real = digits_fid(x_train[:450], x_test)
    >>> import torch
    >>> noise = digits_fid(torch.rand(450, 1, 8, 8) * 2 - 1, x_test)
    >>> real < noise
    True
    """
    check_tensor("images", images, dtype="float", ndim=4, shape="(B, 1, 8, 8)")
    check_tensor("reference", reference, dtype="float", ndim=4, shape="(B, 1, 8, 8)")
    mu1, s1 = feature_statistics(digits_features(images))
    mu2, s2 = feature_statistics(digits_features(reference))
    return frechet_distance(mu1, s1, mu2, s2)
