# Hernan & Robins, Causal Inference: What If, Program 12.2 (companion R code by Joy Shi and Sean McGrath),
# as it produced the reference numbers in nhefs_ipw_chapter12.json. Kept as text; not run by the tests.
library(geepack)
nhefs <- read.csv("nhefs.csv")
nhefs.nmv <- nhefs[which(!is.na(nhefs$wt82)), ]   # 1566 individuals with a 1982 weight

fit <- glm(qsmk ~ sex + race + age + I(age ^ 2) + as.factor(education) +
             smokeintensity + I(smokeintensity ^ 2) + smokeyrs + I(smokeyrs ^ 2) +
             as.factor(exercise) + as.factor(active) + wt71 + I(wt71 ^ 2),
           family = binomial(), data = nhefs.nmv)
p.qsmk.obs <- ifelse(nhefs.nmv$qsmk == 0, 1 - predict(fit, type = "response"),
                     predict(fit, type = "response"))
nhefs.nmv$w <- 1 / p.qsmk.obs

msm.w <- geeglm(wt82_71 ~ qsmk, data = nhefs.nmv, weights = w, id = seqn, corstr = "independence")
beta <- coef(msm.w)
SE <- coef(summary(msm.w))[, 2]
cbind(beta, lcl = beta - qnorm(0.975) * SE, ucl = beta + qnorm(0.975) * SE)
# qsmk row: 3.44 (2.41, 4.47)
