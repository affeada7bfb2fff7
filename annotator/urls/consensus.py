from django.urls import path

from annotator.api import consensus as api
from annotator.views import consensus as views

app_name = "consensus"

urlpatterns = [
    path("datasets/<slug:slug>/agreement/", views.agreement_dashboard, name="dashboard"),
    path("api/datasets/<slug:slug>/agreement/", api.AgreementApi.as_view(), name="api-agreement"),
    path("api/datasets/<slug:slug>/redundancy/", api.RedundancyApi.as_view(), name="api-redundancy"),
    path("api/datasets/<slug:slug>/queue-order/", api.QueueOrderApi.as_view(), name="api-queue-order"),
]
