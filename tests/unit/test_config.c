#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char path[64];

static void
write_config(const char *text)
{
	FILE	*fp;
	int	 fd;

	snprintf(path, sizeof(path), "/tmp/imggen-cfg-XXXXXX");
	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	fputs(text, fp);
	fclose(fp);
	setenv("IMGGEN_CONFIG", path, 1);
}

static void
cleanup(void)
{
	unlink(path);
	unsetenv("IMGGEN_CONFIG");
	unsetenv("IMGGEN_LEASE_SECONDS");
}

Test(config, file_then_environment, .fini = cleanup)
{
	struct config	 cfg;
	struct buf	 p = BUF_INIT(4096);

	write_config("# comment\nIMGGEN_FS_ROOT=\"/srv/files\"\n"
	    "IMGGEN_LEASE_SECONDS=90\nexport IMGGEN_LOG_LEVEL=debug\n");
	setenv("IMGGEN_LEASE_SECONDS", "120", 1);
	cr_assert_eq(config_load(&cfg, &p), 0, "%s", buf_cstr(&p));
	cr_assert_str_eq(cfg.fs_root, "/srv/files");
	cr_assert_eq(cfg.lease_seconds, 120);	/* environment wins */
	cr_assert_str_eq(cfg.log_level, "debug");
	cr_assert_str_eq(cfg.provider, "local");	/* default */
	config_release(&cfg);
	buf_free(&p);
}

Test(config, every_problem_named_secrets_never_echoed, .fini = cleanup)
{
	struct config	 cfg;
	struct buf	 p = BUF_INIT(4096);

	write_config("IMGGEN_PROVIDER=dalle\nIMGGEN_LEASE_SECONDS=2\n"
	    "NOPE=1\nnot a pair\n");
	cr_assert_eq(config_load(&cfg, &p), -1);
	cr_assert(strstr(buf_cstr(&p), "IMGGEN_PROVIDER") != NULL);
	cr_assert(strstr(buf_cstr(&p), "IMGGEN_LEASE_SECONDS") != NULL);
	cr_assert(strstr(buf_cstr(&p), "NOPE: unknown key") != NULL);
	cr_assert(strstr(buf_cstr(&p), "line 4") != NULL);
	config_release(&cfg);
	buf_free(&p);
}

Test(config, print_masks_secrets, .fini = cleanup)
{
	struct config	 cfg;
	struct buf	 p = BUF_INIT(4096);
	char		 out[4096] = "";
	FILE		*fp;

	write_config("DATABASE_URL=postgresql://u:hunter2@db/imggen\n");
	cr_assert_eq(config_load(&cfg, &p), 0);
	cr_assert_not_null(fp = fmemopen(out, sizeof(out) - 1, "w"));
	config_print(&cfg, fp);
	fclose(fp);
	cr_assert(strstr(out, "DATABASE_URL=***") != NULL);
	cr_assert(strstr(out, "hunter2") == NULL);
	config_release(&cfg);
	buf_free(&p);
}
