from django.apps import AppConfig


class FlashFusionConfig(AppConfig):
    name = "flashfusion"
    verbose_name = "FlashFusion core"
