{{/* The provider, checked: the chart renders nothing useful without one. */}}
{{- define "peerpods.provider" -}}
{{- $p := required "set provider (aws, azure or local)" .Values.provider -}}
{{- if not (hasKey .Values.providerConfigs $p) -}}
{{- fail (printf "provider %q has no providerConfigs entry (aws, azure, local)" $p) -}}
{{- end -}}
{{- $p -}}
{{- end -}}

{{- define "peerpods.secretName" -}}
{{- if eq .Values.secrets.mode "reference" -}}
{{- required "secrets.mode=reference needs secrets.existingSecretName" .Values.secrets.existingSecretName -}}
{{- else -}}
peer-pods-secret
{{- end -}}
{{- end -}}

{{/* Name of the adaptor's TLS secret (certs-for-tls), or "" when the adaptor makes its own CA. */}}
{{- define "peerpods.tlsSecretName" -}}
{{- if .Values.secrets.existingTlsSecretName -}}
{{- .Values.secrets.existingTlsSecretName -}}
{{- else if .Values.secrets.tlsCerts.caCert -}}
certs-for-tls
{{- end -}}
{{- end -}}

{{- define "peerpods.webhookTlsSecret" -}}
{{- if .Values.webhook.certManager.enabled -}}
peerpods-webhook-cert
{{- else -}}
{{- required "webhook.certManager.enabled=false needs webhook.tls.secretName" .Values.webhook.tls.secretName -}}
{{- end -}}
{{- end -}}
