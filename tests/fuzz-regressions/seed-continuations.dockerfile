# escape=`
FROM scratch
RUN echo `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
# c
  
 a `
end
