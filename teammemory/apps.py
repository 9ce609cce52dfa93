from django.apps import AppConfig


class TeammemoryConfig(AppConfig):
    name = "teammemory"
    verbose_name = "Team memory"

    def ready(self):
        # Improvement (a lower layer) cannot import team memory: it asks the sources registered here.
        from improvement.covariates import covariate_source_register
        from teammemory.covariates import BUILD_PREFIX, PROJECT_PREFIX, build_score_history

        for prefix in (BUILD_PREFIX, PROJECT_PREFIX):
            covariate_source_register(prefix=prefix, source=build_score_history)
