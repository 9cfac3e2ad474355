/* Standalone probe of one convolution path (see build.sh): seeded random weights
   zeroed at the path's granularity, warm-up, then min and median of >= 20 runs. */
#include "sparseconv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static unsigned long long rs=88172645463325252ULL;
static double rnd(void){rs^=rs<<13;rs^=rs>>7;rs^=rs<<17;return (rs>>11)*(1.0/9007199254740992.0);}
int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  if(argc<11){fprintf(stderr,"cin cout h w k stride pad path sparsity threads [dil groups]\n");return 1;}
  sc_conv_desc d={0};
  d.in_channels=atoi(argv[1]);d.out_channels=atoi(argv[2]);d.in_h=atoi(argv[3]);d.in_w=atoi(argv[4]);
  d.kernel_h=d.kernel_w=atoi(argv[5]);d.stride_h=d.stride_w=atoi(argv[6]);
  d.pad_top=d.pad_left=d.pad_bottom=d.pad_right=atoi(argv[7]);
  int path=atoi(argv[8]);double sp=atof(argv[9]);int th=atoi(argv[10]);
  d.dilation_h=d.dilation_w=argc>11?atoi(argv[11]):1; d.groups=argc>12?atoi(argv[12]):1;
  int oh,ow; if(sc_conv_desc_output_size(&d,&oh,&ow)){puts("bad");return 1;}
  int cg=d.in_channels/d.groups,kk=d.kernel_h*d.kernel_w; long per=(long)cg*kk, nw=per*d.out_channels;
  float*w=malloc(nw*4);float*b=malloc(d.out_channels*4);
  for(long i=0;i<nw;i++)w[i]=rnd()-0.5; for(int i=0;i<d.out_channels;i++)b[i]=rnd();
  /* zero at granularity */
  long kept=0;
  for(int o=0;o<d.out_channels;o++){
    for(int c=0;c<cg;c++)for(int t=0;t<kk;t++){
      long i=(long)o*per+(long)c*kk+t; int z;
      if(path==3){ /* block: decide on even o */ 
        if(o%2==0){ double r=rnd(); z=r<sp; w[i]=z?0:w[i]; if(o+1<d.out_channels){ long j=i+per; if(z) w[j]=0; else if(w[j]==0) w[j]=0.1f; } }
        continue;}
      else if(path==4){ if(t==0){ z=rnd()<sp; } else z=(w[(long)o*per+(long)c*kk]==0); }
      else if(path==5){ if(c==0&&t==0) z=rnd()<sp; else z=(w[(long)o*per]==0); }
      else if(path==6) z=rnd()<sp; else z=0;
      if(z) w[i]=0;
    }
  }
  /* PRUNE_BIAS=1: a removed filter loses its bias too, as SparseConv's channel masks and
     sparse-bench do (its plane is then zero); by default it keeps it (a constant plane) */
  if(path==5&&getenv("PRUNE_BIAS")) for(int o=0;o<d.out_channels;o++){ int any=0; for(long i=0;i<per;i++) any|=w[(long)o*per+i]!=0; if(!any) b[o]=0; }
  for(long i=0;i<nw;i++) kept+=w[i]!=0;
  sc_conv_op*op; sc_status st=sc_conv_op_create(path,&d,w,NULL,b,SC_ACTIVATION_RELU,SC_ISA_AUTO,&op);
  if(st){printf("create %d\n",st);return 1;}
  long in_n=(long)d.in_channels*d.in_h*d.in_w, out_n=(long)d.out_channels*oh*ow;
  float*x=sc_aligned_alloc(in_n*4),*y=sc_aligned_alloc(out_n*4);
  for(long i=0;i<in_n;i++)x[i]=rnd()-0.5;
  size_t ws=sc_conv_op_workspace_size(op,1,th); void*wsp=ws?sc_aligned_alloc(ws):0;
  /* RUNS=N: exactly N timed runs after one warm-up (the sanitizer sweep) */
  const int runs=getenv("RUNS")?atoi(getenv("RUNS")):0;
  for(int i=0;i<(runs?1:5);i++) sc_conv_op_run(op,1,x,y,wsp,ws,th);
  double s[400]; int n=0; double t0=now();
  if(runs>0) while(n<runs&&n<400){ double a=now();sc_conv_op_run(op,1,x,y,wsp,ws,th);s[n++]=now()-a; }
  static char *junk; if(getenv("COLD")&&!junk){junk=malloc(64<<20);}
  while(!runs && n<400 && (n<20 || now()-t0<0.5)){ if(junk){ for(long i=0;i<(64<<20);i+=64) junk[i]++; } double a=now();sc_conv_op_run(op,1,x,y,wsp,ws,th);s[n++]=now()-a;}
  qsort(s,n,sizeof(double),cmp);
  double dense=2.0*nw*oh*ow, useful=2.0*kept*oh*ow;
  printf("%-9s sp=%.2f  min %.4f ms  med %.4f ms  eff %.1f  useful %.1f GF/s (med)  stored=%ld\n", sc_path_name(path), 1.0-(double)kept/nw, s[0]*1e3, s[n/2]*1e3, dense/s[n/2]*1e-9, useful/s[n/2]*1e-9, (long)sc_conv_op_stored_weights(op));
  /* SUM=1: a checksum of the output, to check that two builds compute the same */
  if(getenv("SUM")){ double a=0,q=0; for(long i=0;i<out_n;i++){ a+=y[i]*(1+i%7); q+=(double)y[i]*y[i]; } printf("sum %.9g %.9g\n",a,q); }
  return 0;
}
