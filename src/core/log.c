/*
 * Messages. zp_debug() speaks only when ZPAGE_DEBUG is set; zp_error() always
 * (configuration errors, faults that cannot be served); zp_fatal() then stops
 * the process.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static void emit(const char *kind, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "zpage: %s", kind);

	if (n < 0)
		return;
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	zp_port_print(buf, len);
}

static bool debug_enabled(void)
{
	/* Before start-up the configuration is not parsed yet. */
	if (zp_running())
		return zp.conf.debug;
	const char *v = getenv("ZPAGE_DEBUG");
	return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

void zp_debug(const char *fmt, ...)
{
	if (!debug_enabled())
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

void zp_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("error: ", fmt, ap);
	va_end(ap);
}

void zp_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("fatal: ", fmt, ap);
	va_end(ap);
	zp_port_abort();
}
