{% autoescape off %}{# The paths are constants of explorer/viewer.py; the name, from the environment, is escaped. #}// OHIF's configuration, written by Pharos (explorer/viewer.py): one data source, this server's
// DICOMweb on the same origin, so that the browser's session authenticates every request.
// Nothing is fetched from anywhere else: no CDN, no analytics, no dialogs.
window.config = {
  name: "pharos",
  routerBasename: "{{ base }}",
  extensions: [],
  modes: [],
  customizationService: {},
  showStudyList: true,
  maxNumberOfWebWorkers: 3,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: true,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  investigationalUseDialog: { option: "never" },
  maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 25 },
  defaultDataSourceName: "pharos",
  dataSources: [
    {
      namespace: "@ohif/extension-default.dataSourcesModule.dicomweb",
      sourceName: "pharos",
      configuration: {
        friendlyName: "{{ name|escapejs }}",
        name: "pharos",
        qidoRoot: window.location.origin + "{{ dicomweb }}",
        wadoRoot: window.location.origin + "{{ dicomweb }}",
        wadoUriRoot: window.location.origin + "{{ wado_uri }}",
        qidoSupportsIncludeField: true,
        imageRendering: "wadors",
        thumbnailRendering: "wadors",
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        staticWado: false,
        dicomUploadEnabled: false,
        bulkDataURI: { enabled: true },
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
  httpErrorHandler: error => {
    console.warn("Pharos answered", error.status);
  },
};
{% endautoescape %}
