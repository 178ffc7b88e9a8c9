# The sensemakr call that printed the reference numbers in darfur_sensemakr.json
# (Cinelli & Hazlett 2020; the package vignette). Kept as text; not run by the tests.
library(sensemakr)
data("darfur")
darfur.model <- lm(peacefactor ~ directlyharmed + age + farmer_dar + herder_dar +
                     pastvoted + hhsize_darfur + female + village, data = darfur)
darfur.sensitivity <- sensemakr(model = darfur.model, treatment = "directlyharmed",
                                benchmark_covariates = "female", kd = 1:3)
summary(darfur.sensitivity)
# Partial R2 of treatment with outcome: 0.0219; Robustness Value, q = 1: 0.1388;
# Robustness Value, q = 1, alpha = 0.05: 0.0763
ovb_bounds(darfur.model, treatment = "directlyharmed", benchmark_covariates = "female", kd = 1:3)
# 1x female: r2dz.x 0.0092, r2yz.dx 0.1246, adjusted estimate 0.0752
# 2x female: r2dz.x 0.0183, r2yz.dx 0.2493, adjusted estimate 0.0529
# 3x female: r2dz.x 0.0275, r2yz.dx 0.3741, adjusted estimate 0.0304
