from django.urls import path

from annotator import review_api, review_views

app_name = "review"

urlpatterns = [
    path("review/", review_views.review_index, name="index"),
    path("review/<slug:slug>/", review_views.review_queue, name="queue"),
    path("review/<slug:slug>/images/<id:image_id>/", review_views.review_image, name="image"),
    path("images/<id:image_id>/history/", review_views.image_history, name="history"),
    path("api/datasets/<slug:slug>/review-queue/", review_api.ReviewQueueApi.as_view(), name="api-queue"),
    path("api/images/<id:image_id>/review/", review_api.ImageReviewApi.as_view(), name="api-image"),
    path("api/images/<id:image_id>/adjudications/", review_api.AdjudicationsApi.as_view(), name="api-adjudications"),
    path("api/images/<id:image_id>/more-annotations/", review_api.MoreAnnotationsApi.as_view(), name="api-more"),
]
