from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.converters import IdConverter
from config.views import healthz, media_serve, ping

# Every id in a path is `<id:…>`: at most PostgreSQL's bigint (a longer number is a 404, never a 500).
register_converter(IdConverter, "id")

# A lost database connection anywhere (not only in a view) answers 503; see config.views.server_error.
# Otherwise the site's own error pages (config.error_pages), JSON under /api/.
handler500 = "config.views.server_error"
handler400 = "config.views.bad_request"
handler403 = "config.error_pages.permission_denied"
handler404 = "config.error_pages.page_not_found"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("ping", ping, name="ping"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Every page and endpoint of the apps: one include per domain, whose namespace is the domain.
    path("", include("annotator.urls.datasets")),
    path("", include("annotator.urls.accounts")),
    path("", include("annotator.urls.annotations")),
    path("", include("annotator.urls.consensus")),
    path("", include("annotator.urls.review")),
    path("", include("evaluation.urls.leaderboard")),
    path("", include("evaluation.urls.prediction_sets")),
    path("", include("evaluation.urls.releases")),
    path("", include("evaluation.urls.dataset_compare")),
    path("", include("evaluation.urls.pilots")),
    re_path(r"^media/(?P<path>.*)$", media_serve, name="media"),
]
