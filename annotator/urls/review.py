from django.urls import path

from annotator.api import review as api
from annotator.views import review as views

app_name = "review"

urlpatterns = [
    path("review/", views.review_index, name="index"),
    path("review/<slug:slug>/", views.review_queue, name="queue"),
    path("review/<slug:slug>/images/<id:image_id>/", views.review_image, name="image"),
    path("images/<id:image_id>/history/", views.image_history, name="history"),
    path("api/datasets/<slug:slug>/review-queue/", api.ReviewQueueApi.as_view(), name="api-queue"),
    path("api/images/<id:image_id>/review/", api.ImageReviewApi.as_view(), name="api-image"),
    path("api/images/<id:image_id>/adjudications/", api.AdjudicationsApi.as_view(), name="api-adjudications"),
    path("api/images/<id:image_id>/more-annotations/", api.MoreAnnotationsApi.as_view(), name="api-more"),
]
