from django.urls import path

from annotator import consensus_api, dashboard

app_name = "consensus"

urlpatterns = [
    path("datasets/<slug:slug>/agreement/", dashboard.agreement_dashboard, name="dashboard"),
    path("api/datasets/<slug:slug>/agreement/", consensus_api.AgreementApi.as_view(), name="api-agreement"),
]
