"""Design rounds case: the settings of the three rounds and the menus of the design answers (public, no answers).

Round 1, fraud: a card issuer's transactions over ``N_DAYS`` days, scored by the deployed model, with chargebacks
that arrive up to ``MATURITY_DAYS`` days later; ``REVIEW_CAPACITY`` analysts' reviews a day. Round 2, moderation:
two days of ``ITEMS_PER_DAY`` uploads with a cheap and an expensive classifier's scores, one day to tune the
cascade on and one to test it; a precision floor for automatic removal and two daily capacities. Round 3,
autocomplete: four weeks of a search engine's query log; the last day is the one to predict.

Every menu lists, per key of a design answer, the choices and what each means; the notebook prints them with
:func:`show_menu`. Which choice fits which system is for the learner to decide (and for ``checks.design`` to judge).
"""

from __future__ import annotations

SEED = 0

# ---------------------------------------------------------------- round 1: fraud
N_DAYS = 90                # days of transactions, 0 .. 89; the data are as of day 89
PER_DAY = 2_000            # transactions on a weekday
FRAUD_RATE = 0.008         # 0.8 % of transactions are fraudulent
MATURITY_DAYS = 30         # a chargeback arrives at most 30 days after its transaction
REVIEW_CAPACITY = 10       # the analysts review 10 alerts a day
VALID_DAYS = 14            # days of matured data held out for validation
ATTACK_DAY = 40            # a card-testing ring strikes on day 40
ATTACK_SIZE = 60
FRAUD_FEATURES = ["amount", "hour", "online", "foreign", "card_age_days", "txns_last_24h", "merchant_risk",
                  "new_device"]
TRANSACTIONS = {"n_days": N_DAYS, "per_day": PER_DAY, "fraud_rate": FRAUD_RATE, "maturity_days": MATURITY_DAYS,
                "attack_day": ATTACK_DAY, "attack_size": ATTACK_SIZE, "random_state": SEED}

# ---------------------------------------------------------------- round 2: moderation
ITEMS_PER_DAY = 20_000     # uploads a day
VIOLATION_RATE = 0.02      # 2 % violate the policy
BLIND_SHARE = 0.2          # a fifth of the violations are image-only: the cheap text model cannot see them
PRECISION_TARGET = 0.95    # automatic removals must be right 95 % of the time
REVIEW_BUDGET = 300        # human reviews a day
EXPENSIVE_BUDGET = 3_000   # items a day the expensive model can score (GPU capacity)
MODERATION = {"n_days": 2, "items_per_day": ITEMS_PER_DAY, "violation_rate": VIOLATION_RATE,
              "blind_share": BLIND_SHARE, "random_state": SEED}
TUNE_DAY, TEST_DAY = 0, 1

# ---------------------------------------------------------------- round 3: autocomplete
QUERY_DAYS = 28            # days of logged searches, 0 .. 27; day 27 is the day to predict
SUGGESTIONS = 5            # completions shown per keystroke
HALF_LIVES = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, float("inf")]  # days; inf: all-time counts
QUERY_LOG = {"n_days": QUERY_DAYS, "random_state": SEED}
LATENCY_BUDGET_MS = 50     # per keystroke, end to end; the lookup gets a few milliseconds of it

# ---------------------------------------------------------------- the design answers' menus

FRAUD_MENU = {
    "requirements": {
        "top_k_within_review_capacity": "alert on the highest-scoring transactions, as many a day as the analysts "
                                        "can review",
        "flag_above_fixed_score": "alert on every transaction whose score is above 0.5",
        "maximise_accuracy": "be right on as many transactions as possible",
        "catch_every_fraud": "send every possibly fraudulent transaction to an analyst, however many there are",
    },
    "data": {
        "matured_chargebacks_and_analyst_labels": "chargebacks and analyst verdicts, for transactions whose "
                                                  "chargeback window has closed",
        "chargebacks_received_so_far": "a transaction with a chargeback so far is fraud, every other one legitimate",
        "analyst_verdicts_only": "the analysts' verdicts on the transactions they reviewed",
        "rules_engine_flags": "the transactions the old rules engine flagged",
    },
    "features": {
        "point_in_time_behaviour_aggregates": "the card's and merchant's recent behaviour (transactions in the last "
                                              "hour or day, amount against the card's usual), computed as of the "
                                              "transaction's time",
        "aggregates_over_whole_table": "the same aggregates computed once over the whole table",
        "card_number_one_hot": "the card number, one-hot encoded",
        "chargeback_status": "whether the transaction has had a chargeback",
    },
    "model": {
        "gradient_boosted_trees": "gradient-boosted trees on tabular features",
        "logistic_regression": "a regularised logistic regression",
        "unsupervised_anomaly_detector": "an anomaly detector trained without labels (an isolation forest)",
        "sequence_model_as_first_version": "a large sequence model over raw event logs, as the first version",
    },
    "validation": {
        "time_split_matured_labels": "train on older transactions and validate on the days after them, all with "
                                     "matured labels",
        "random_split": "a random 80/20 split of all transactions",
        "latest_days_labelled_today": "validate on the most recent days, with the labels known today",
        "shuffled_k_fold": "shuffled 5-fold cross-validation",
    },
    "offline_metric": {
        "precision_at_k_per_day": "of each day's k alerts, the share that are fraud",
        "fraud_amount_caught_at_k": "of each day's fraud, the share of its amount in the day's k alerts",
        "accuracy": "the share of transactions classified correctly",
        "roc_auc_all_transactions": "ROC AUC over all transactions",
    },
    "online_metric": {
        "fraud_losses_prevented": "fraud losses prevented per day, net of legitimate spending blocked",
        "analyst_hit_rate": "the share of reviewed alerts the analysts confirm as fraud",
        "alerts_per_day": "the number of alerts a day",
        "daily_production_auc": "the live model's ROC AUC, recomputed every day",
    },
    "serving": {
        "real_time_scoring_at_authorisation": "score each transaction while it is authorised (tens of "
                                              "milliseconds) and queue the highest for the analysts",
        "nightly_batch_scoring": "score the day's transactions overnight and send the top k in the morning",
        "weekly_batch_scoring": "score the week's transactions once a week",
    },
    "monitoring": {
        "score_drift_and_matured_precision": "the score distribution and alert volume daily, precision@k on the days "
                                             "whose labels have matured",
        "precision_on_latest_days": "precision@k of yesterday's alerts, labelled as of today",
        "accuracy_dashboard": "daily accuracy",
    },
    "feedback_loop": {
        "random_audit_of_unalerted": "review a small random sample of the transactions nobody alerted on, and use "
                                     "chargebacks on everything",
        "retrain_on_reviewed_alerts_only": "retrain on the alerts the analysts reviewed",
        "model_scores_as_labels": "count the transactions above the threshold as fraud when retraining",
        "no_loop_to_worry_about": "chargebacks arrive whatever the model does, so there is no feedback loop",
    },
}

MODERATION_MENU = {
    "requirements": {
        "precision_floor_and_review_budget": "remove automatically only above a precision floor, send the uncertain "
                                             "items to humans within their daily capacity",
        "remove_above_fixed_score": "remove every item whose violation score is above 0.5",
        "human_review_of_every_flag": "send every item a model flags to human review",
        "maximise_accuracy": "be right on as many items as possible",
    },
    "data": {
        "reviewer_decisions_plus_random_audit": "reviewer decisions on queued items, plus a random sample of all "
                                                "items labelled by policy experts",
        "user_reports_only": "the items users reported",
        "reviewed_items_only": "the items the current system sent to review",
        "keyword_matches": "items matching a list of banned keywords",
    },
    "features": {
        "content_embeddings_and_account_signals": "text and image embeddings of the item, plus account signals "
                                                  "(account age, past violations)",
        "reports_received_by_end_of_day": "how many user reports the item has received by the end of its day",
        "author_id_one_hot": "the author's id, one-hot encoded",
    },
    "model": {
        "cheap_then_expensive_cascade": "a cheap model on every item, an expensive model on what it passes on, "
                                        "humans on the uncertain rest",
        "expensive_model_on_everything": "the largest model on every item",
        "keyword_and_hash_rules_only": "keyword lists and hashes of known images, nothing learned",
    },
    "offline_metric": {
        "recall_at_precision_target_within_budgets": "the share of violations removed or reviewed, at thresholds "
                                                     "that meet the precision floor and both capacities",
        "accuracy": "the share of items decided correctly",
        "roc_auc_of_each_model": "the ROC AUC of the cheap and of the expensive model",
    },
    "online_metric": {
        "prevalence_of_violating_views": "the share of views that land on violating content, measured on a random "
                                         "sample",
        "overturned_appeals_rate": "the share of removals overturned on appeal",
        "removals_per_day": "the number of items removed a day",
        "review_queue_length": "the length of the human review queue",
    },
    "serving": {
        "cheap_at_upload_rest_asynchronous": "the cheap model scores at upload, the expensive model and the review "
                                             "queue run asynchronously within minutes",
        "nightly_batch_all_stages": "every stage runs once a night",
        "expensive_model_blocks_upload": "every upload waits for the expensive model before it is published",
    },
    "monitoring": {
        "stage_loads_and_audited_precision": "items a day at each stage against its capacity, and precision and "
                                             "recall on a random audit sample",
        "removal_count_only": "the number of automatic removals a day",
        "precision_on_reviewed_items": "the share of reviewed items the reviewers find violating",
    },
    "feedback_loop": {
        "audits_and_appeals_into_training": "random-audit labels and appeal outcomes go back into training; reviewer "
                                            "labels are used knowing which items the cascade sent",
        "auto_removals_as_positives": "retrain with the automatic removals counted as violations",
        "no_loop_to_worry_about": "what users upload does not depend on the model",
    },
    "rollout": {
        "offline_shadow_canary_ab_full": "offline evaluation, shadow mode (decisions logged, not applied), a small "
                                         "canary, an A/B test, then everyone",
        "everyone_after_offline": "everyone at once, once the offline numbers look good",
        "ab_test_from_day_one": "an A/B test on half the traffic from the first day",
    },
}

AUTOCOMPLETE_MENU = {
    "requirements": {
        "top_k_per_keystroke_within_latency": "the k best completions for every keystroke, within tens of "
                                              "milliseconds",
        "best_completions_whatever_the_latency": "the best completions, however long they take",
        "single_most_frequent_completion": "one completion: the most frequent query with the prefix",
    },
    "data": {
        "query_logs_with_timestamps": "logged searches with their timestamps",
        "editorial_query_list": "a hand-curated list of good queries",
        "web_crawl_phrases": "frequent phrases from crawled web pages",
    },
    "features": {
        "decayed_frequency_with_trending": "how often each query was searched, with a time decay (a half-life) "
                                           "that lets trending queries rise",
        "all_time_frequency": "how often each query was searched, over all time",
        "query_length": "how short the query is",
    },
    "model": {
        "frequency_ranker_then_learned_reranker": "rank candidates by decayed frequency; rerank the top few with a "
                                                  "learned model (context, personalisation) later",
        "generative_model_per_keystroke": "a large language model generates completions at every keystroke",
        "alphabetical_completion": "completions in alphabetical order",
    },
    "offline_metric": {
        "mrr_and_success_at_k_next_day": "MRR and success@k of the suggestions on the next day's searches (typed "
                                         "prefix, then the query searched)",
        "next_character_accuracy": "how often the next character is predicted correctly",
        "mrr_on_random_sample_of_log": "MRR on a random sample of all logged searches",
    },
    "online_metric": {
        "acceptance_rate_and_keystrokes_saved": "the share of searches that use a suggestion, and keystrokes saved "
                                                "per search",
        "suggestions_shown_per_day": "the number of suggestions shown a day",
        "index_size": "the number of prefixes in the index",
    },
    "serving": {
        "precomputed_prefix_index_plus_streaming_trends": "top-k per prefix precomputed in batch into a key-value "
                                                          "store or trie, plus a streaming job that updates trending "
                                                          "counts within minutes",
        "scan_all_queries_per_keystroke": "filter every known query by the prefix and rank them at every keystroke",
        "nightly_index_rebuild_only": "rebuild the prefix index once a night",
    },
    "monitoring": {
        "latency_percentiles_and_acceptance": "p50 and p99 latency per keystroke, acceptance and MRR by day, reports "
                                              "of offensive suggestions",
        "average_latency_only": "the mean latency",
        "index_build_success_only": "whether the nightly index build succeeded",
    },
    "feedback_loop": {
        "log_impressions_and_discount_shown_position": "log what was shown and chosen, and discount choices by the "
                                                       "position they were shown in",
        "accepted_suggestions_as_organic_queries": "count every accepted suggestion as an ordinary search",
        "no_loop_to_worry_about": "users search what they want, so suggestions do not feed back",
    },
    "cold_start": {
        "fresh_counts_and_global_fallback": "new queries rise through the decayed, streaming counts; unknown prefixes "
                                            "and new users fall back to global suggestions",
        "wait_for_a_month_of_history": "suggest a query only once it has a month of history",
        "personal_history_only": "suggest only queries the user searched before",
    },
}


def show_menu(menu: dict) -> None:
    """Print a design answer's menu: each key, then its choices and what each means."""
    for key, choices in menu.items():
        print(key)
        for choice, meaning in choices.items():
            print(f"    {choice!r:52} {meaning}")


__all__ = [
    "SEED", "N_DAYS", "PER_DAY", "FRAUD_RATE", "MATURITY_DAYS", "REVIEW_CAPACITY", "VALID_DAYS", "ATTACK_DAY",
    "ATTACK_SIZE", "FRAUD_FEATURES", "TRANSACTIONS",
    "ITEMS_PER_DAY", "VIOLATION_RATE", "BLIND_SHARE", "PRECISION_TARGET", "REVIEW_BUDGET", "EXPENSIVE_BUDGET",
    "MODERATION", "TUNE_DAY", "TEST_DAY",
    "QUERY_DAYS", "SUGGESTIONS", "HALF_LIVES", "QUERY_LOG", "LATENCY_BUDGET_MS",
    "FRAUD_MENU", "MODERATION_MENU", "AUTOCOMPLETE_MENU", "show_menu",
]
